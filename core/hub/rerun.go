package hub

import "sync"

// rerun runs a background job at most once at a time: a request while it
// runs makes it run once more when it ends, however many came meanwhile.
// Re-dispatching all waiting sessions on every session end, or re-routing
// them on every status change, then costs one pass per burst instead of one
// goroutine per event.
type rerun struct {
	mu             sync.Mutex
	running, again bool
}

// request runs job in the background now, or once more after the run in
// progress.
func (r *rerun) request(job func()) {
	r.mu.Lock()
	if r.running {
		r.again = true
		r.mu.Unlock()
		return
	}
	r.running = true
	r.mu.Unlock()
	go func() {
		for {
			job()
			r.mu.Lock()
			if !r.again {
				r.running = false
				r.mu.Unlock()
				return
			}
			r.again = false
			r.mu.Unlock()
		}
	}()
}
