package sessions

import (
	"context"
	"time"

	"github.com/tetherhq/tether/core/org"
)

// Every technician action reads the technician's credentials, which the
// API has just read to authenticate the same request. With CredentialsTTL
// set they are kept that long; ForgetCredentials (the hub calls it on every
// organisation change) drops them all at once, so a technician disabled or
// moved through this node is seen at once, and through another node within
// the TTL (the API itself still checks every request).

func (s *Service) credentials(ctx context.Context, memberID int64) (org.Credentials, error) {
	if s.CredentialsTTL <= 0 {
		return s.Org.CredentialsByID(ctx, memberID)
	}
	now := time.Now()
	c, ok, gen := s.creds.Get(memberID, now, s.CredentialsTTL)
	if ok {
		return c, nil
	}
	c, err := s.Org.CredentialsByID(ctx, memberID)
	if err != nil {
		return org.Credentials{}, err
	}
	s.creds.Put(gen, memberID, c, now)
	return c, nil
}

// ForgetCredentials drops every kept credential.
func (s *Service) ForgetCredentials() { s.creds.Forget() }
