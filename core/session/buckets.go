package session

import "time"

// Buckets is the time a session spent in each timed state (RPT-3). Durations are stored and
// encoded as time.Duration, i.e. nanoseconds (hence the _ns JSON names); reports convert to
// seconds. Pending counts in no bucket.
type Buckets struct {
	Connecting time.Duration `json:"connecting_ns"`
	Waiting    time.Duration `json:"waiting_ns"`
	Active     time.Duration `json:"active_ns"`
	Hold       time.Duration `json:"hold_ns"`
	Transfer   time.Duration `json:"transfer_ns"`
	Reboot     time.Duration `json:"reboot_ns"`
	Reconnect  time.Duration `json:"reconnect_ns"`
}

// Total is RPT-3's total time: active + hold + transfer + reboot + reconnect. Connecting and
// waiting are the customer's time before anyone helped, so they are left out.
func (b Buckets) Total() time.Duration {
	return b.Active + b.Hold + b.Transfer + b.Reboot + b.Reconnect
}

// add puts d into the bucket of state st; states without a bucket drop it.
func (b *Buckets) add(st State, d time.Duration) {
	switch st {
	case Connecting:
		b.Connecting += d
	case Waiting:
		b.Waiting += d
	case Active:
		b.Active += d
	case OnHold:
		b.Hold += d
	case Transferring:
		b.Transfer += d
	case Rebooting:
		b.Reboot += d
	case Reconnecting:
		b.Reconnect += d
	}
}

// since is now - from, or zero when now is earlier: clocks of different nodes disagree a little,
// and a report must never show negative time.
func since(from, now time.Time) time.Duration {
	if now.Before(from) {
		return 0
	}
	return now.Sub(from)
}
