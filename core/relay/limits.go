package relay

import "time"

// Limits bound what one socket may do. Zero fields take the defaults.
type Limits struct {
	// MaxFrameBytes is the largest frame accepted, text or binary (1 MiB); a
	// larger one closes the socket with 1009 (message too big).
	MaxFrameBytes int64
	// RatePerSecond and RateBurst are a token bucket per socket over JSON
	// frames (20/s, bursts of 40). A frame over the limit is refused with
	// error "rate_limited"; RateStrikes refusals in a row close the socket
	// with 1008. Binary frames are not counted: they are paced by the
	// receiver (see SlowConsumerTimeout).
	RatePerSecond float64
	RateBurst     int
	RateStrikes   int
	// SendQueue is how many control frames (ack, error, state, pong) may wait
	// for one socket (64); BinaryQueue how many relayed binary frames (32).
	// Log messages are not queued: the socket reads them from the log.
	SendQueue   int
	BinaryQueue int
	// SlowConsumerTimeout is how long a binary sender waits for room in a
	// receiver's queue before that receiver is dropped (5 s); a full control
	// queue drops the socket at once. Either way the client resumes.
	SlowConsumerTimeout time.Duration
	// WriteTimeout bounds one frame write (10 s).
	WriteTimeout time.Duration
	// PingInterval is how often the server pings (25 s); a ping unanswered
	// within PingTimeout (10 s) closes the socket.
	PingInterval time.Duration
	PingTimeout  time.Duration
	// ResumeWait is how long the server waits for a first "resume" frame
	// when the URL had no resume_after (2 s) before sending from the start.
	ResumeWait time.Duration
	// ActivityInterval is the least time between two Sessions.Activity calls
	// of one socket (10 s; negative: every action).
	ActivityInterval time.Duration
	// TransmittedFlush is how often relayed bytes are added to the session
	// (1 s), and always when the socket closes.
	TransmittedFlush time.Duration
	// CatchUpBatch is how many log messages one read fetches (256).
	CatchUpBatch int
}

// DefaultLimits are the limits documented in docs/relay-protocol.md.
func DefaultLimits() Limits {
	return Limits{
		MaxFrameBytes: 1 << 20, RatePerSecond: 20, RateBurst: 40, RateStrikes: 100,
		SendQueue: 64, BinaryQueue: 32, SlowConsumerTimeout: 5 * time.Second,
		WriteTimeout: 10 * time.Second, PingInterval: 25 * time.Second, PingTimeout: 10 * time.Second,
		ResumeWait: 2 * time.Second, ActivityInterval: 10 * time.Second, TransmittedFlush: time.Second,
		CatchUpBatch: 256,
	}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxFrameBytes <= 0 {
		l.MaxFrameBytes = d.MaxFrameBytes
	}
	if l.RatePerSecond <= 0 {
		l.RatePerSecond = d.RatePerSecond
	}
	if l.RateBurst <= 0 {
		l.RateBurst = d.RateBurst
	}
	if l.RateStrikes <= 0 {
		l.RateStrikes = d.RateStrikes
	}
	if l.SendQueue <= 0 {
		l.SendQueue = d.SendQueue
	}
	if l.BinaryQueue <= 0 {
		l.BinaryQueue = d.BinaryQueue
	}
	if l.SlowConsumerTimeout <= 0 {
		l.SlowConsumerTimeout = d.SlowConsumerTimeout
	}
	if l.WriteTimeout <= 0 {
		l.WriteTimeout = d.WriteTimeout
	}
	if l.PingInterval <= 0 {
		l.PingInterval = d.PingInterval
	}
	if l.PingTimeout <= 0 {
		l.PingTimeout = d.PingTimeout
	}
	if l.ResumeWait <= 0 {
		l.ResumeWait = d.ResumeWait
	}
	if l.ActivityInterval == 0 {
		l.ActivityInterval = d.ActivityInterval
	}
	if l.TransmittedFlush <= 0 {
		l.TransmittedFlush = d.TransmittedFlush
	}
	if l.CatchUpBatch <= 0 {
		l.CatchUpBatch = d.CatchUpBatch
	}
	return l
}

// bucket is a token bucket; the caller passes the time.
type bucket struct {
	rate, burst, tokens float64
	last                time.Time
}

func newBucket(rate float64, burst int) *bucket {
	return &bucket{rate: rate, burst: float64(burst), tokens: float64(burst)}
}

func (b *bucket) allow(now time.Time) bool {
	if !b.last.IsZero() {
		b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
