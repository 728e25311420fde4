package e2e

import (
	"net/url"
	"slices"
	"testing"
	"time"
)

// BenchmarkCloseToPost is the time from a technician's close request to
// the post-to-URL receiver getting the end post, through the real binary,
// its bundled plugin process and a real HTTP receiver; it reports p50 and
// p99 over b.N sessions.
//
//	go test ./e2e -run '^$' -bench CloseToPost -benchtime 200x
func BenchmarkCloseToPost(b *testing.B) {
	for _, engine := range []string{"sqlite", "postgres"} {
		b.Run(engine, func(b *testing.B) {
			rcv := newReceiver(b)
			h := StartHub(b, Options{Postgres: engine == "postgres", LogLevel: "info"})
			master, _ := signIn(b, h, DefaultAdminEmail, DefaultAdminPassword)
			group, _, tech := staff(b, h, master, "bench@example.com")
			master.must(200, "POST", "/api/v1/plugins/posturl/enable", nil)
			master.must(200, "PUT", "/api/v1/units/"+id(group)+"/plugins/posturl/settings", map[string]any{"enabled": true,
				"values": map[string]any{"end_url": rcv.srv.URL + "/end", "format": "form", "allow_private_targets": true}})
			anon := &api{t: b, h: h}
			var lat []time.Duration
			for b.Loop() {
				b.StopTimer()
				c := tech.must(201, "POST", "/api/v1/sessions", map[string]any{})
				sid := id(c["session"].(map[string]any))
				anon.must(201, "POST", "/api/v1/customer/join", map[string]any{"pin": c["pin"]})
				tech.must(200, "POST", "/api/v1/sessions/"+sid+"/pickup", nil)
				b.StartTimer()
				start := time.Now()
				tech.must(200, "POST", "/api/v1/sessions/"+sid+"/close", nil)
				p := rcv.await(b, "end", "/end", "SessionID="+url.QueryEscape(sid)+"&")
				lat = append(lat, p.At.Sub(start))
			}
			slices.Sort(lat)
			q := func(f float64) float64 { return float64(lat[int(f*float64(len(lat)-1))].Microseconds()) / 1000 }
			b.ReportMetric(q(0.5), "p50-ms")
			b.ReportMetric(q(0.99), "p99-ms")
		})
	}
}
