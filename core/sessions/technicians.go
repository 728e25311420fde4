package sessions

import (
	"context"
	"sync"
	"time"

	"github.com/tetherhq/tether/core/org"
)

// Every technician action reads the technician's credentials, which the
// API has just read to authenticate the same request. With CredentialsTTL
// set they are kept that long; ForgetCredentials (the hub calls it on every
// organisation change) drops them all at once, so a technician disabled or
// moved through this node is seen at once, and through another node within
// the TTL (the API itself still checks every request).

type credentialCache struct {
	mu      sync.Mutex
	gen     uint64
	entries map[int64]cachedCredentials
}

type cachedCredentials struct {
	creds org.Credentials
	read  time.Time
}

// maxCachedCredentials bounds the cache; past it, it starts over.
const maxCachedCredentials = 10_000

func (s *Service) credentials(ctx context.Context, memberID int64) (org.Credentials, error) {
	if s.CredentialsTTL <= 0 {
		return s.Org.CredentialsByID(ctx, memberID)
	}
	c := &s.creds
	now := time.Now()
	c.mu.Lock()
	e, ok := c.entries[memberID]
	gen := c.gen
	c.mu.Unlock()
	if ok && now.Before(e.read.Add(s.CredentialsTTL)) {
		return e.creds, nil
	}
	creds, err := s.Org.CredentialsByID(ctx, memberID)
	if err != nil {
		return org.Credentials{}, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen == c.gen { // else a change came meanwhile: what was read may predate it
		if c.entries == nil || len(c.entries) >= maxCachedCredentials {
			c.entries = make(map[int64]cachedCredentials)
		}
		c.entries[memberID] = cachedCredentials{creds: creds, read: now}
	}
	return creds, nil
}

// ForgetCredentials drops every kept credential.
func (s *Service) ForgetCredentials() {
	c := &s.creds
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.entries = nil
}
