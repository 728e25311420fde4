package delivery

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/store"
)

// Defaults for the zero values of Config.
const (
	DefaultConcurrency  = 16
	DefaultPollInterval = 250 * time.Millisecond
	DefaultTimeout      = 30 * time.Second
	DefaultLease        = 2 * time.Minute
	DefaultMaxAge       = 72 * time.Hour
	DefaultBackoffBase  = time.Second
	DefaultBackoffCap   = time.Hour
)

// maxRecordBatch bounds how many results one transaction records, and
// maxUnrecorded how many may wait to be recorded before claims pause.
const (
	maxRecordBatch = 256
	maxUnrecorded  = 2 * maxRecordBatch
)

// Config configures a Queue. Only DB and Deliver are required.
type Config struct {
	DB      *bun.DB
	Deliver DeliverFunc
	// Ready reports whether a plugin can take deliveries now (its process
	// runs). Deliveries of a plugin that is not ready wait, without using
	// attempts, until it is; call Wake when it becomes ready. nil means
	// always ready.
	Ready func(plugin string) bool

	// Concurrency is how many deliveries of one plugin run at once on this
	// node; the order per session holds whatever it is. ConcurrencyOf, if
	// set, overrides it for the plugins for which it returns more than 0.
	Concurrency   int
	ConcurrencyOf func(plugin string) int
	PollInterval  time.Duration // how often to look for due work when not woken, and to repair
	Timeout       time.Duration // for one call of Deliver
	// Lease is how long a claim holds before another worker may take the
	// delivery over; it must exceed Timeout.
	Lease time.Duration
	// MaxAge is how long after its first attempt (or replay) a delivery is
	// retried before it fails.
	MaxAge      time.Duration
	BackoffBase time.Duration
	BackoffCap  time.Duration
	// Node names this hub node in claims, so that Recover hands back only
	// the deliveries this node was running. Nodes sharing a database need
	// distinct names that survive a restart.
	Node string

	Now  func() time.Time      // nil means time.Now
	Rand func(n int64) int64   // a number in [0, n); nil means math/rand/v2
	Log  hclog.Logger          // nil means no logging
	Reg  prometheus.Registerer // nil means no metrics are exposed
}

// Queue claims due deliveries and runs them through Deliver, concurrently
// across plugins and sessions and in order within one (plugin, session).
type Queue struct {
	cfg     Config
	log     hclog.Logger
	metrics *metrics
	wake    chan struct{}
	// repairWake wakes the repair loop out of its idle wait.
	repairWake chan struct{}

	mu         sync.Mutex
	inflight   map[string]int // per plugin: claimed, Deliver not returned yet
	unrecorded int            // claimed, result not written yet
}

// New checks cfg, fills in defaults and registers the queue's metrics.
func New(cfg Config) (*Queue, error) {
	if cfg.DB == nil || cfg.Deliver == nil {
		return nil, errors.New("delivery queue: DB and Deliver are required")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.PollInterval, DefaultPollInterval)
	def(&cfg.Timeout, DefaultTimeout)
	def(&cfg.Lease, DefaultLease)
	def(&cfg.MaxAge, DefaultMaxAge)
	def(&cfg.BackoffBase, DefaultBackoffBase)
	def(&cfg.BackoffCap, DefaultBackoffCap)
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	if cfg.Lease <= cfg.Timeout {
		return nil, fmt.Errorf("delivery queue: lease %s must exceed the delivery timeout %s", cfg.Lease, cfg.Timeout)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Int64N
	}
	log := cfg.Log
	if log == nil {
		log = hclog.NewNullLogger()
	}
	q := &Queue{
		cfg:        cfg,
		log:        log,
		metrics:    newMetrics(cfg.DB),
		wake:       make(chan struct{}, 1),
		repairWake: make(chan struct{}, 1),
		inflight:   map[string]int{},
	}
	if cfg.Reg != nil {
		if err := q.metrics.register(cfg.Reg); err != nil {
			return nil, fmt.Errorf("delivery queue: register metrics: %w", err)
		}
	}
	return q, nil
}

func (q *Queue) now() time.Time { return q.cfg.Now().UTC().Truncate(time.Microsecond) }

// Wake makes Run look for due deliveries now instead of at its next poll.
// Call it after committing a transaction that enqueued deliveries, and when
// a plugin becomes ready.
func (q *Queue) Wake() {
	for _, c := range []chan struct{}{q.wake, q.repairWake} {
		select {
		case c <- struct{}{}:
		default:
		}
	}
}

// Run delivers until ctx is cancelled, then waits for the deliveries under
// way (whose context is cancelled too) and records their outcome. Database
// errors are logged and retried at the next poll. Call Recover before the
// first Run of a process, and run one Run at a time per Queue.
func (q *Queue) Run(ctx context.Context) {
	results := make(chan result, maxRecordBatch)
	recorded := make(chan struct{})
	go func() {
		defer close(recorded)
		q.recordLoop(results)
	}()

	expired := make(chan struct{})
	go func() {
		defer close(expired)
		q.expireLoop(ctx)
	}()
	repaired := make(chan struct{})
	go func() {
		defer close(repaired)
		q.repairLoop(ctx)
	}()

	var running sync.WaitGroup
	ticker := time.NewTicker(q.cfg.PollInterval)
	defer ticker.Stop()
	for ctx.Err() == nil {
		if err := q.dispatch(ctx, results, &running); err != nil && ctx.Err() == nil {
			q.log.Error("claiming deliveries failed", "error", err)
		}
		select {
		case <-ctx.Done():
		case <-q.wake:
		case <-ticker.C:
		}
	}
	running.Wait()
	close(results)
	<-recorded
	<-expired
	<-repaired
}

// expireLoop hands back deliveries whose lease has expired, a tenth of a
// lease at a time; it runs beside the claims so as not to delay them.
func (q *Queue) expireLoop(ctx context.Context) {
	ticker := time.NewTicker(q.cfg.Lease / 10)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		if _, err := q.expireLeases(ctx); err != nil && ctx.Err() == nil {
			q.log.Error("taking back expired deliveries failed", "error", err)
		}
	}
}

// repairLoop runs repair every repairEvery (or PollInterval, if shorter),
// beside the claims so as not to delay them: a session left without a head
// by a race waits at most that long. Its cost grows with the backlog (it reads every unfinished
// delivery), so it waits at least repairDuty times as long as it ran,
// keeping its share of the database's time small when thousands of
// deliveries wait, e.g. for a plugin that is down. With no unfinished
// delivery at all there is nothing to repair: it then only checks that
// every PollInterval, and Wake (which follows every enqueue) ends that
// idle wait; while deliveries are unfinished only the timer paces it, so
// a busy queue's wake-ups do not make it run more often. An idle hub makes
// 4 cheap queries a second instead of 80.
func (q *Queue) repairLoop(ctx context.Context) {
	every := min(q.cfg.PollInterval, repairEvery)
	timer := time.NewTimer(every)
	defer timer.Stop()
	var woken <-chan struct{} // q.repairWake while idle, else nil
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-woken:
		}
		start := time.Now()
		if busy, err := q.unfinished(ctx); err == nil && !busy {
			woken = q.repairWake
			timer.Reset(max(every, q.cfg.PollInterval))
			continue
		}
		woken = nil
		if _, _, err := q.repair(ctx); err != nil && ctx.Err() == nil {
			q.log.Error("repairing the order of deliveries failed", "error", err)
		}
		timer.Reset(max(every, repairDuty*time.Since(start)))
	}
}

// unfinishedStmt asks whether any delivery is pending, running or blocked,
// each from its partial index.
var unfinishedStmt = store.NewStatement(`SELECT CASE WHEN EXISTS (SELECT 1 FROM plugin_deliveries WHERE state IN ('pending', 'running'))
	OR EXISTS (SELECT 1 FROM plugin_deliveries WHERE state = 'blocked') THEN 1 ELSE 0 END`)

// unfinished reports whether any delivery is unfinished.
func (q *Queue) unfinished(ctx context.Context) (bool, error) {
	var n int
	if err := unfinishedStmt.Scan(ctx, q.cfg.DB, &n); err != nil {
		return false, fmt.Errorf("look for unfinished deliveries: %w", err)
	}
	return n == 1, nil
}

// repairEvery is how often repair runs while it is cheap (a small backlog:
// two scans of nearly empty partial indexes).
const repairEvery = 25 * time.Millisecond

// repairDuty: repair waits at least this many times as long as it ran.
const repairDuty = 20

// dispatch claims due deliveries for every ready plugin with free slots and
// starts them. It claims as many as there are slots, so there is nothing
// more to do until a slot frees, a result is recorded or work is added,
// each of which wakes Run.
func (q *Queue) dispatch(ctx context.Context, results chan<- result, running *sync.WaitGroup) error {
	plugins, err := q.pendingPlugins(ctx)
	if err != nil {
		return err
	}
	for _, p := range plugins {
		if q.cfg.Ready != nil && !q.cfg.Ready(p) {
			continue
		}
		free, room := q.room(p)
		n := min(free, room)
		if n <= 0 {
			continue
		}
		claimed, err := q.claim(ctx, p, n)
		if err != nil {
			return err
		}
		q.took(p, len(claimed))
		for _, c := range claimed {
			running.Add(1)
			go func() {
				defer running.Done()
				r := q.attempt(ctx, c)
				q.called(p)
				results <- r
			}()
		}
	}
	return nil
}

// A plugin's slot is taken from its claim until Deliver returns: the
// concurrency limit is about calls into the plugin. The delivery stays
// running in the database until its result is recorded, which is what
// holds back the next one of its session; meanwhile other sessions'
// deliveries can be claimed and called. unrecorded bounds the results
// waiting to be written, so a slow database slows the claims down.

// room returns plugin's free slots and how many more results may wait.
func (q *Queue) room(plugin string) (free, room int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.concurrency(plugin) - q.inflight[plugin], maxUnrecorded - q.unrecorded
}

func (q *Queue) concurrency(plugin string) int {
	if q.cfg.ConcurrencyOf != nil {
		if n := q.cfg.ConcurrencyOf(plugin); n > 0 {
			return n
		}
	}
	return q.cfg.Concurrency
}

func (q *Queue) took(plugin string, n int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.inflight[plugin] += n
	q.unrecorded += n
}

// called frees plugin's slot once Deliver has returned, and wakes the
// dispatcher if it may have left work for want of a slot.
func (q *Queue) called(plugin string) {
	q.mu.Lock()
	full := q.inflight[plugin] >= q.concurrency(plugin)
	q.inflight[plugin]--
	if q.inflight[plugin] <= 0 {
		delete(q.inflight, plugin)
	}
	q.mu.Unlock()
	if full {
		q.Wake()
	}
}

// recorded counts results written, and wakes the dispatcher: the next
// deliveries of their sessions may be due now.
func (q *Queue) recorded(n int) {
	q.mu.Lock()
	q.unrecorded -= n
	q.mu.Unlock()
	q.Wake()
}

// recordLoop writes results in batches: whatever has arrived while the
// previous batch was being written goes into the next transaction.
func (q *Queue) recordLoop(results <-chan result) {
	batch := make([]result, 0, maxRecordBatch)
	for r := range results {
		batch = append(batch[:0], r)
	drain:
		for len(batch) < maxRecordBatch {
			select {
			case r, ok := <-results:
				if !ok {
					break drain
				}
				batch = append(batch, r)
			default:
				break drain
			}
		}
		q.recordWithRetry(batch)
		q.recorded(len(batch))
	}
}

// recordWithRetry records a batch, trying a few times while the database is
// unavailable. If it never succeeds the rows stay running and are taken
// back when their lease expires: the deliveries are sent again.
func (q *Queue) recordWithRetry(batch []result) {
	var err error
	for try := range 5 {
		if try > 0 {
			time.Sleep(time.Duration(try) * 200 * time.Millisecond)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err = q.record(ctx, batch)
		cancel()
		if err == nil {
			return
		}
	}
	q.log.Error("recording delivery results failed; they will be delivered again after their lease",
		"deliveries", len(batch), "error", err)
}
