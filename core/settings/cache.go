package settings

// Every session transition reads a handful of sections (permissions,
// timeouts, presence, terms ...) and each read walks the unit's ancestors
// and the settings table. Values change rarely, so a Service with a
// CacheTTL remembers which stored value applies to a (unit, section) and
// decodes it afresh on every read, so that no caller can change what the
// next one gets.
//
// A Save or Reset through the same Service, or Invalidate (the hub calls it
// when the organisation tree changes), forgets everything at once. Another
// hub node's changes are seen within CacheTTL.

type cacheKey struct {
	unit    int64
	section string
}

// resolution is which stored value applies to a unit's section: the unit
// itself, the source unit and its raw JSON; source nil is the default.
type resolution struct {
	unit   Unit
	source *Unit
	raw    string
}

// Invalidate forgets every cached resolution; call it when the organisation
// tree changes (a unit moved or removed), as settings cannot see that.
func (s *Service) Invalidate() { s.cache.Forget() }
