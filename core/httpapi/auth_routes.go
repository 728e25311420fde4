package httpapi

import (
	"net/http"
	"time"

	"github.com/tetherhq/tether/core/auth"
	"github.com/tetherhq/tether/core/fault"
	"github.com/tetherhq/tether/core/org"
)

type signInBody struct {
	Email    string `json:"email" validate:"required,max=254"`
	Password string `json:"password" validate:"required,max=256"`
}

type signInAnswer struct {
	Token              string     `json:"token,omitempty"`
	TokenID            int64      `json:"token_id"`
	ExpiresAt          time.Time  `json:"expires_at"`
	MustChangePassword bool       `json:"must_change_password"`
	PasswordExpiresAt  *time.Time `json:"password_expires_at,omitempty"`
	PasswordExpiryDue  bool       `json:"password_expiry_notice"`
	Member             org.Member `json:"member"`
}

type passwordBody struct {
	CurrentPassword string `json:"current_password" validate:"required,max=256"`
	NewPassword     string `json:"new_password" validate:"required,max=256"`
}

func (a *API) authRoutes() {
	a.public("POST /api/v1/auth/token", a.issueToken("api"))
	a.public("POST /api/v1/auth/session", a.issueToken("web"))
	a.restrictedOK("DELETE /api/v1/auth/token", a.revokeCurrent)
	a.restrictedOK("DELETE /api/v1/auth/session", a.revokeCurrent)
	a.restrictedOK("POST /api/v1/auth/password", a.changePassword)
	a.restrictedOK("GET /api/v1/me", a.me)
	a.signedIn("GET /api/v1/auth/tokens", a.listTokens)
	a.signedIn("DELETE /api/v1/auth/tokens/{id}", a.revokeToken)
}

func (a *API) issueToken(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var body signInBody
		err := decodeJSON(r, &body)
		if err == nil {
			err = fault.Validate(body)
		}
		var res auth.SignInResult
		if err == nil {
			ttl := time.Duration(0)
			if kind == "api" {
				ttl = a.TokenTTL
			}
			res, err = a.Auth.SignIn(r.Context(), auth.SignInRequest{
				Email: body.Email, Password: body.Password, IP: auth.ClientIP(r), Kind: kind, TTL: ttl})
		}
		a.signIns.WithLabelValues(kind, signInResult(err)).Inc()
		if err != nil {
			writeError(w, r, a.Log, err)
			return
		}
		member, err := a.Org.MemberByID(r.Context(), res.Token.MemberID)
		if err != nil {
			writeError(w, r, a.Log, err)
			return
		}
		ans := signInAnswer{Token: res.Plaintext, TokenID: res.Token.ID, ExpiresAt: res.Token.ExpiresAt,
			MustChangePassword: res.MustChangePassword, PasswordExpiresAt: res.PasswordExpiresAt,
			PasswordExpiryDue: res.ExpiryNotice, Member: member}
		if kind == "web" {
			http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: res.Plaintext, Path: "/",
				Expires: res.Token.ExpiresAt, HttpOnly: true, Secure: auth.Secure(r), SameSite: http.SameSiteLaxMode})
			ans.Token = "" // the cookie carries it; scripts never see it
		}
		writeJSON(w, http.StatusCreated, ans)
	}
}

func signInResult(err error) string {
	if err == nil {
		return "success"
	}
	if fe, ok := fault.As(err); ok {
		return fe.Code
	}
	return "error"
}

func (a *API) revokeCurrent(w http.ResponseWriter, r *http.Request, p *principal) error {
	if err := a.Auth.Tokens.Revoke(r.Context(), p.Token.ID, p.Actor.ID); err != nil {
		return err
	}
	if p.Token.Kind == "web" {
		http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1,
			HttpOnly: true, Secure: auth.Secure(r), SameSite: http.SameSiteLaxMode})
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) changePassword(w http.ResponseWriter, r *http.Request, p *principal) error {
	var body passwordBody
	if err := decodeJSON(r, &body); err != nil {
		return err
	}
	if err := fault.Validate(body); err != nil {
		return err
	}
	if err := a.Auth.ChangePassword(r.Context(), p.Actor.ID, p.Token.ID, auth.ClientIP(r), body.CurrentPassword, body.NewPassword); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) me(w http.ResponseWriter, r *http.Request, p *principal) error {
	m, err := a.Org.MemberByID(r.Context(), p.Actor.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"member": m, "token": p.Token})
	return nil
}

func (a *API) listTokens(w http.ResponseWriter, r *http.Request, p *principal) error {
	toks, err := a.Auth.Tokens.List(r.Context(), p.Actor.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"tokens": toks})
	return nil
}

func (a *API) revokeToken(w http.ResponseWriter, r *http.Request, p *principal) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if err := a.Auth.Tokens.Revoke(r.Context(), id, p.Actor.ID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
