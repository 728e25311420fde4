package queue

import "time"

// DefaultWaitPerPosition is the estimate per queue position while there is
// no response time to average.
const DefaultWaitPerPosition = time.Minute

// EstimateWait is the waiting time shown to a customer at position (1 = next)
// in the queue (SESS-11): the average of the recent response times (time from
// Waiting to picked up; the caller passes the last N of that technician, or of
// the channel's available technicians) times the position, rounded to the
// second. Negative durations are ignored as bad data; with none left it is
// DefaultWaitPerPosition per position. Position below 1 (not queued) is zero.
func EstimateWait(responseTimes []time.Duration, position int) time.Duration {
	if position < 1 {
		return 0
	}
	var sum time.Duration
	n := 0
	for _, d := range responseTimes {
		if d < 0 {
			continue
		}
		sum += d
		n++
	}
	if n == 0 {
		return DefaultWaitPerPosition * time.Duration(position)
	}
	return (sum / time.Duration(n) * time.Duration(position)).Round(time.Second)
}
