package relay

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/sqlitedialect"

	"github.com/tetherhq/tether/core/store"
)

func BenchmarkAppendTmp(b *testing.B) {
	for _, extra := range []string{"", "&_pragma=wal_autocheckpoint(0)"} {
		b.Run(fmt.Sprint(extra != ""), func(b *testing.B) {
			path := b.TempDir() + "/t.db"
			dsn := "file:" + path + "?_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=synchronous(NORMAL)&_txlock=immediate&_time_format=sqlite" + extra
			sqldb, _ := sql.Open("sqlite", dsn)
			db := bun.NewDB(sqldb, sqlitedialect.New())
			defer db.Close()
			ctx := context.Background()
			if _, err := store.MigrateUp(ctx, db); err != nil {
				b.Fatal(err)
			}
			stop := make(chan struct{})
			if extra != "" {
				go func() {
					for {
						select {
						case <-stop:
							return
						case <-time.After(50 * time.Millisecond):
							db.ExecContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)")
						}
					}
				}()
			}
			defer close(stop)
			sid := insertSession(b, db, 0)
			log := NewLog(db, testOutbox, nil)
			var d []time.Duration
			for i := range b.N {
				t0 := time.Now()
				if _, err := log.Append(ctx, db, Message{SessionID: sid, Kind: KindChat, SenderKind: SenderCustomer, Body: "hello", ClientMsgID: fmt.Sprint(i)}); err != nil {
					b.Fatal(err)
				}
				d = append(d, time.Since(t0))
			}
			p50, p99 := percentiles(d)
			b.ReportMetric(p50, "p50-µs")
			b.ReportMetric(p99, "p99-µs")
		})
	}
}
