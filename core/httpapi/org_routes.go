package httpapi

import (
	"net/http"
	"strconv"

	"github.com/tetherhq/tether/core/fault"
	"github.com/tetherhq/tether/core/org"
)

func (a *API) orgRoutes() {
	a.signedIn("GET /api/v1/org/tree", a.tree)
	a.signedIn("GET /api/v1/org/search", a.search)
	a.signedIn("POST /api/v1/tech-groups", a.createGroup(org.KindTechGroup))
	a.signedIn("POST /api/v1/admin-groups", a.createGroup(org.KindAdminGroup))
	a.signedIn("GET /api/v1/groups/{id}", a.getGroup)
	a.signedIn("PATCH /api/v1/groups/{id}", a.updateGroup)
	a.signedIn("DELETE /api/v1/groups/{id}", a.deleteGroup)
	a.signedIn("GET /api/v1/members", a.listMembers)
	a.signedIn("POST /api/v1/members", a.createMember)
	a.signedIn("GET /api/v1/members/{id}", a.getMember)
	a.signedIn("PATCH /api/v1/members/{id}", a.updateMember)
	a.signedIn("DELETE /api/v1/members/{id}", a.deleteMember)
	a.signedIn("PUT /api/v1/members/{id}/password", a.setMemberPassword)
	a.signedIn("PUT /api/v1/members/{id}/assigned-groups", a.assignGroups)
	a.signedIn("GET /api/v1/channels", a.listChannels)
	a.signedIn("GET /api/v1/channels/{id}", a.getChannel)
	a.signedIn("PATCH /api/v1/channels/{id}", a.updateChannel)
	a.signedIn("PUT /api/v1/channels/{id}/groups/{group_id}", a.assignChannel)
	a.signedIn("DELETE /api/v1/channels/{id}/groups/{group_id}", a.unassignChannel)
	a.signedIn("PUT /api/v1/channels/{id}/exclusions/{technician_id}", a.setExclusion(true))
	a.signedIn("DELETE /api/v1/channels/{id}/exclusions/{technician_id}", a.setExclusion(false))
}

func (a *API) tree(w http.ResponseWriter, r *http.Request, p *principal) error {
	sc, err := p.Scope(r.Context())
	if err != nil {
		return err
	}
	t, err := a.Org.Tree(r.Context(), sc)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"root": t})
	return nil
}

func (a *API) search(w http.ResponseWriter, r *http.Request, p *principal) error {
	sc, err := p.Scope(r.Context())
	if err != nil {
		return err
	}
	limit := 0
	if l := r.URL.Query().Get("limit"); l != "" {
		if limit, err = strconv.Atoi(l); err != nil || limit < 1 || limit > 500 {
			return fault.Field("limit", "must be an integer from 1 to 500")
		}
	}
	hits, err := a.Org.Search(r.Context(), sc, r.URL.Query().Get("q"), limit)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"results": hits})
	return nil
}

func (a *API) createGroup(kind org.Kind) handler {
	return func(w http.ResponseWriter, r *http.Request, p *principal) error {
		var in org.GroupInput
		if err := decodeJSON(r, &in); err != nil {
			return err
		}
		sc, err := p.Scope(r.Context())
		if err != nil {
			return err
		}
		var u org.Unit
		if kind == org.KindTechGroup {
			u, err = a.Org.CreateTechGroup(r.Context(), sc, in)
		} else {
			u, err = a.Org.CreateAdminGroup(r.Context(), sc, in)
		}
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusCreated, u)
		return nil
	}
}

func (a *API) getGroup(w http.ResponseWriter, r *http.Request, p *principal) error {
	id, sc, err := idAndScope(r, p)
	if err != nil {
		return err
	}
	u, err := a.Org.Unit(r.Context(), sc, id)
	if err != nil {
		return err
	}
	if u.Kind != org.KindTechGroup && u.Kind != org.KindAdminGroup {
		return fault.NotFoundf("group", "No group with id %d.", id)
	}
	writeJSON(w, http.StatusOK, u)
	return nil
}

func (a *API) updateGroup(w http.ResponseWriter, r *http.Request, p *principal) error {
	id, sc, err := idAndScope(r, p)
	if err != nil {
		return err
	}
	var patch org.GroupPatch
	if err := decodeJSON(r, &patch); err != nil {
		return err
	}
	return reply(w, http.StatusOK)(a.Org.UpdateGroup(r.Context(), sc, id, patch))
}

func (a *API) deleteGroup(w http.ResponseWriter, r *http.Request, p *principal) error {
	id, sc, err := idAndScope(r, p)
	if err != nil {
		return err
	}
	if err := a.Org.DeleteGroup(r.Context(), sc, id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) listMembers(w http.ResponseWriter, r *http.Request, p *principal) error {
	sc, err := p.Scope(r.Context())
	if err != nil {
		return err
	}
	var f org.MemberFilter
	if g := r.URL.Query().Get("group_id"); g != "" {
		if f.GroupID, err = strconv.ParseInt(g, 10, 64); err != nil {
			return fault.Field("group_id", "must be an integer")
		}
	}
	if role := r.URL.Query().Get("role"); role != "" {
		f.Role = org.Kind(role)
		if !f.Role.IsMember() {
			return fault.Field("role", "must be one of: master, admin, technician")
		}
	}
	ms, err := a.Org.ListMembers(r.Context(), sc, f)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"members": ms})
	return nil
}

type memberBody struct {
	org.MemberInput
	// Password, when given, is set by the administrator and must be changed
	// at the member's first sign-in (AUTH-1).
	Password string `json:"password"`
}

func (a *API) createMember(w http.ResponseWriter, r *http.Request, p *principal) error {
	var body memberBody
	if err := decodeJSON(r, &body); err != nil {
		return err
	}
	if err := fault.Validate(body.MemberInput); err != nil {
		return err
	}
	sc, err := p.Scope(r.Context())
	if err != nil {
		return err
	}
	hash := ""
	if body.Password != "" {
		if hash, err = a.Auth.HashForNewMember(r.Context(), body.Password); err != nil {
			return err
		}
	}
	return reply(w, http.StatusCreated)(a.Org.CreateMember(r.Context(), sc, body.MemberInput, hash, hash != ""))
}

func (a *API) getMember(w http.ResponseWriter, r *http.Request, p *principal) error {
	id, sc, err := idAndScope(r, p)
	if err != nil {
		return err
	}
	return reply(w, http.StatusOK)(a.Org.Member(r.Context(), sc, id))
}

func (a *API) updateMember(w http.ResponseWriter, r *http.Request, p *principal) error {
	id, sc, err := idAndScope(r, p)
	if err != nil {
		return err
	}
	var patch org.MemberPatch
	if err := decodeJSON(r, &patch); err != nil {
		return err
	}
	m, err := a.Org.UpdateMember(r.Context(), sc, id, patch)
	if err != nil {
		return err
	}
	if patch.Enabled != nil && !*patch.Enabled {
		// A disabled member's tokens stop working at once.
		if _, err := a.Auth.Tokens.RevokeAll(r.Context(), id, 0); err != nil {
			return err
		}
	}
	writeJSON(w, http.StatusOK, m)
	return nil
}

func (a *API) deleteMember(w http.ResponseWriter, r *http.Request, p *principal) error {
	id, sc, err := idAndScope(r, p)
	if err != nil {
		return err
	}
	if err := a.Org.DeleteMember(r.Context(), sc, id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) setMemberPassword(w http.ResponseWriter, r *http.Request, p *principal) error {
	id, sc, err := idAndScope(r, p)
	if err != nil {
		return err
	}
	var body struct {
		Password string `json:"password" validate:"required,max=256"`
	}
	if err := decodeJSON(r, &body); err != nil {
		return err
	}
	if err := fault.Validate(body); err != nil {
		return err
	}
	if err := a.Org.CheckManageMember(r.Context(), sc, id); err != nil {
		return err
	}
	if err := a.Auth.SetPasswordByAdmin(r.Context(), id, body.Password); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) assignGroups(w http.ResponseWriter, r *http.Request, p *principal) error {
	id, sc, err := idAndScope(r, p)
	if err != nil {
		return err
	}
	var body struct {
		Groups []int64 `json:"groups"`
	}
	if err := decodeJSON(r, &body); err != nil {
		return err
	}
	if body.Groups == nil {
		return fault.Field("groups", "is required (an empty list removes every assignment)")
	}
	return reply(w, http.StatusOK)(a.Org.AssignGroups(r.Context(), sc, id, body.Groups))
}

func (a *API) listChannels(w http.ResponseWriter, r *http.Request, p *principal) error {
	sc, err := p.Scope(r.Context())
	if err != nil {
		return err
	}
	cs, err := a.Org.Channels(r.Context(), sc)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"channels": cs})
	return nil
}

func (a *API) getChannel(w http.ResponseWriter, r *http.Request, p *principal) error {
	id, sc, err := idAndScope(r, p)
	if err != nil {
		return err
	}
	return reply(w, http.StatusOK)(a.Org.Channel(r.Context(), sc, id))
}

func (a *API) updateChannel(w http.ResponseWriter, r *http.Request, p *principal) error {
	id, sc, err := idAndScope(r, p)
	if err != nil {
		return err
	}
	var patch org.ChannelPatch
	if err := decodeJSON(r, &patch); err != nil {
		return err
	}
	return reply(w, http.StatusOK)(a.Org.UpdateChannel(r.Context(), sc, id, patch))
}

func (a *API) assignChannel(w http.ResponseWriter, r *http.Request, p *principal) error {
	id, gid, err := twoIDs(r, "id", "group_id")
	if err != nil {
		return err
	}
	sc, err := p.Scope(r.Context())
	if err != nil {
		return err
	}
	return reply(w, http.StatusOK)(a.Org.AssignChannel(r.Context(), sc, id, gid))
}

func (a *API) unassignChannel(w http.ResponseWriter, r *http.Request, p *principal) error {
	id, gid, err := twoIDs(r, "id", "group_id")
	if err != nil {
		return err
	}
	sc, err := p.Scope(r.Context())
	if err != nil {
		return err
	}
	if err := a.Org.UnassignChannel(r.Context(), sc, id, gid); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) setExclusion(excluded bool) handler {
	return func(w http.ResponseWriter, r *http.Request, p *principal) error {
		id, tid, err := twoIDs(r, "id", "technician_id")
		if err != nil {
			return err
		}
		sc, err := p.Scope(r.Context())
		if err != nil {
			return err
		}
		c, err := a.Org.SetExclusion(r.Context(), sc, id, tid, excluded)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, c)
		return nil
	}
}

func twoIDs(r *http.Request, a, b string) (int64, int64, error) {
	x, err := pathID(r, a)
	if err != nil {
		return 0, 0, err
	}
	y, err := pathID(r, b)
	return x, y, err
}

// idAndScope reads the {id} path parameter and the caller's scope, the
// prologue of most organisation handlers.
func idAndScope(r *http.Request, p *principal) (int64, *org.Scope, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return 0, nil, err
	}
	sc, err := p.Scope(r.Context())
	return id, sc, err
}
