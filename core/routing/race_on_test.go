//go:build race

package routing

// raceEnabled: the race detector slows evaluation about tenfold, so the
// cost bound is not checked under it (hangs and panics still are).
const raceEnabled = true
