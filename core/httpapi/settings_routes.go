package httpapi

import (
	"encoding/json"
	"net/http"

	"github.com/tetherhq/tether/core/fault"
	"github.com/tetherhq/tether/core/org"
	"github.com/tetherhq/tether/core/settings"
)

func (a *API) settingsRoutes() {
	a.signedIn("GET /api/v1/settings/sections", a.listSections)
	a.signedIn("GET /api/v1/units/{id}/settings", a.unitSettings)
	a.signedIn("GET /api/v1/units/{id}/settings/{section}", a.unitSetting)
	a.signedIn("PUT /api/v1/units/{id}/settings/{section}", a.saveSetting)
	a.signedIn("DELETE /api/v1/units/{id}/settings/{section}", a.resetSetting)
	a.signedIn("GET /api/v1/units/{id}/permissions", a.permissions)
}

type sectionInfo struct {
	Name          string              `json:"name"`
	Title         string              `json:"title"`
	Kinds         []settings.UnitKind `json:"kinds"`
	NoAllChannels bool                `json:"no_all_channels"`
	MasterOnly    bool                `json:"master_only"`
	Default       any                 `json:"default"`
}

func (a *API) listSections(w http.ResponseWriter, r *http.Request, p *principal) error {
	var out []sectionInfo
	for _, s := range a.Settings.Registry.Sections() {
		out = append(out, sectionInfo{Name: s.Name, Title: s.Title, Kinds: s.Kinds,
			NoAllChannels: s.NoAllChannels, MasterOnly: s.MasterOnly, Default: s.New()})
	}
	writeJSON(w, http.StatusOK, map[string]any{"sections": out})
	return nil
}

// seeUnit refuses a unit the caller may not read.
func (a *API) seeUnit(r *http.Request, p *principal) (int64, *org.Scope, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return 0, nil, err
	}
	sc, err := p.Scope(r.Context())
	if err != nil {
		return 0, nil, err
	}
	if _, err := a.Org.Unit(r.Context(), sc, id); err != nil {
		return 0, nil, err
	}
	return id, sc, nil
}

func (a *API) unitSettings(w http.ResponseWriter, r *http.Request, p *principal) error {
	id, _, err := a.seeUnit(r, p)
	if err != nil {
		return err
	}
	all, err := a.Settings.All(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"settings": all})
	return nil
}

func (a *API) unitSetting(w http.ResponseWriter, r *http.Request, p *principal) error {
	id, _, err := a.seeUnit(r, p)
	if err != nil {
		return err
	}
	return reply(w, http.StatusOK)(a.Settings.Effective(r.Context(), id, r.PathValue("section")))
}

type saveBody struct {
	// Mode is "unit", "subtree" (this group and its subgroups) or "all"
	// (every group or every channel the caller manages), ORG-8.
	Mode  settings.Mode   `json:"mode"`
	Value json.RawMessage `json:"value"`
}

func (a *API) saveSetting(w http.ResponseWriter, r *http.Request, p *principal) error {
	id, sc, err := a.seeUnit(r, p)
	if err != nil {
		return err
	}
	var body saveBody
	if err := decodeJSON(r, &body); err != nil {
		return err
	}
	if len(body.Value) == 0 || string(body.Value) == "null" {
		return fault.Field("value", "is required")
	}
	if body.Mode == "" {
		body.Mode = settings.ModeUnit
	}
	targets, err := a.Settings.Save(r.Context(), settings.SaveRequest{
		UnitID: id, Section: r.PathValue("section"), Mode: body.Mode, Value: body.Value,
		ActorID: p.Actor.ID, ActorIsMaster: sc.IsMaster(),
		InScope: func(u settings.Unit) bool { return sc.Manages(u.ID) },
	})
	if err != nil {
		return err
	}
	eff, err := a.Settings.Effective(r.Context(), id, r.PathValue("section"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"setting": eff, "saved_for": targets})
	return nil
}

func (a *API) resetSetting(w http.ResponseWriter, r *http.Request, p *principal) error {
	id, sc, err := a.seeUnit(r, p)
	if err != nil {
		return err
	}
	if err := a.Settings.Reset(r.Context(), id, r.PathValue("section"),
		func(u settings.Unit) bool { return sc.Manages(u.ID) }); err != nil {
		return err
	}
	return reply(w, http.StatusOK)(a.Settings.Effective(r.Context(), id, r.PathValue("section")))
}

// permissions answers the ORG-7 permissions a group or technician works
// with; technicians inherit theirs from their group.
func (a *API) permissions(w http.ResponseWriter, r *http.Request, p *principal) error {
	id, sc, err := a.seeUnit(r, p)
	if err != nil {
		return err
	}
	u, err := a.Org.Unit(r.Context(), sc, id)
	if err != nil {
		return err
	}
	groupID := id
	switch u.Kind {
	case org.KindTechnician:
		groupID = *u.ParentID
	case org.KindTechGroup:
	default:
		return fault.Field("id", "permissions belong to technician groups and technicians")
	}
	eff, err := a.Settings.Effective(r.Context(), groupID, org.PermissionsSection)
	if err != nil {
		return err
	}
	perms := eff.Value.(*org.Permissions)
	writeJSON(w, http.StatusOK, map[string]any{"unit": u, "permissions": perms,
		"chat_mode": perms.ChatMode(), "inherited_from": eff.Source})
	return nil
}
