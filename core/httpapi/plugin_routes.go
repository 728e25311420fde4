package httpapi

import (
	"net/http"
	"strconv"
	"time"

	"github.com/tetherhq/tether/core/fault"
	"github.com/tetherhq/tether/core/pluginhost/delivery"
	"github.com/tetherhq/tether/core/pluginhost/pluginsettings"
	"github.com/tetherhq/tether/core/settings"
)

// MaxPluginUpload bounds an uploaded plugin archive.
const MaxPluginUpload = 256 << 20

func (a *API) pluginRoutes() {
	if a.Plugins == nil {
		return
	}
	a.signedIn("GET /api/v1/plugins", a.listPlugins)
	a.signedIn("POST /api/v1/plugins", a.installPlugin)
	a.signedIn("GET /api/v1/plugins/{plugin}", a.getPlugin)
	a.signedIn("DELETE /api/v1/plugins/{plugin}", a.removePlugin)
	a.signedIn("POST /api/v1/plugins/{plugin}/enable", a.enablePlugin)
	a.signedIn("POST /api/v1/plugins/{plugin}/disable", a.disablePlugin)
	a.signedIn("GET /api/v1/plugins/{plugin}/deliveries", a.pluginDeliveries)
	a.signedIn("POST /api/v1/plugins/{plugin}/deliveries/replay", a.replayDeliveries)
	a.signedIn("POST /api/v1/plugins/{plugin}/deliveries/{delivery}/replay", a.replayDelivery)
	a.signedIn("GET /api/v1/units/{id}/plugins/{plugin}/settings", a.pluginSettings)
	a.signedIn("PUT /api/v1/units/{id}/plugins/{plugin}/settings", a.savePluginSettings)
	a.signedIn("DELETE /api/v1/units/{id}/plugins/{plugin}/settings", a.resetPluginSettings)
}

// masterOnly refuses members who are not master administrators: the plugin
// catalogue runs code on the hub.
func (a *API) masterOnly(r *http.Request, p *principal) error {
	sc, err := p.Scope(r.Context())
	if err != nil {
		return err
	}
	if !sc.IsMaster() {
		return fault.Forbiddenf("master_only", "Only master administrators manage plugins.")
	}
	return nil
}

func (a *API) listPlugins(w http.ResponseWriter, r *http.Request, p *principal) error {
	if _, err := p.Scope(r.Context()); err != nil {
		return err
	}
	list, err := a.Plugins.Catalogue.List(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"plugins": list})
	return nil
}

func (a *API) getPlugin(w http.ResponseWriter, r *http.Request, p *principal) error {
	if _, err := p.Scope(r.Context()); err != nil {
		return err
	}
	return reply(w, http.StatusOK)(a.Plugins.Catalogue.Get(r.Context(), r.PathValue("plugin")))
}

func (a *API) installPlugin(w http.ResponseWriter, r *http.Request, p *principal) error {
	if err := a.masterOnly(r, p); err != nil {
		return err
	}
	body := http.MaxBytesReader(w, r.Body, MaxPluginUpload)
	return reply(w, http.StatusCreated)(a.Plugins.InstallTarGz(r.Context(), body))
}

func (a *API) removePlugin(w http.ResponseWriter, r *http.Request, p *principal) error {
	if err := a.masterOnly(r, p); err != nil {
		return err
	}
	if err := a.Plugins.Remove(r.Context(), r.PathValue("plugin")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) enablePlugin(w http.ResponseWriter, r *http.Request, p *principal) error {
	if err := a.masterOnly(r, p); err != nil {
		return err
	}
	return reply(w, http.StatusOK)(a.Plugins.Enable(r.Context(), r.PathValue("plugin")))
}

func (a *API) disablePlugin(w http.ResponseWriter, r *http.Request, p *principal) error {
	if err := a.masterOnly(r, p); err != nil {
		return err
	}
	return reply(w, http.StatusOK)(a.Plugins.Disable(r.Context(), r.PathValue("plugin")))
}

// timeParam reads an RFC 3339 query parameter; empty is the zero time.
func timeParam(r *http.Request, name string) (time.Time, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, fault.Field(name, "must be an RFC 3339 time such as 2026-11-25T09:00:00Z")
	}
	return t, nil
}

func intParam(r *http.Request, name string) (int64, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, fault.Field(name, "must be a non-negative whole number")
	}
	return n, nil
}

func (a *API) pluginDeliveries(w http.ResponseWriter, r *http.Request, p *principal) error {
	if err := a.masterOnly(r, p); err != nil {
		return err
	}
	id := r.PathValue("plugin")
	if _, err := a.Plugins.Catalogue.Get(r.Context(), id); err != nil {
		return err
	}
	f := delivery.Filter{State: delivery.State(r.URL.Query().Get("state"))}
	var err error
	if f.From, err = timeParam(r, "from"); err != nil {
		return err
	}
	if f.To, err = timeParam(r, "to"); err != nil {
		return err
	}
	limit, err := intParam(r, "limit")
	if err != nil {
		return err
	}
	f.Limit = int(limit)
	if f.BeforeID, err = intParam(r, "before"); err != nil {
		return err
	}
	list, err := a.Plugins.Queue.Deliveries(r.Context(), id, f)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"deliveries": list})
	return nil
}

func (a *API) replayDelivery(w http.ResponseWriter, r *http.Request, p *principal) error {
	if err := a.masterOnly(r, p); err != nil {
		return err
	}
	did, err := pathID(r, "delivery")
	if err != nil {
		return err
	}
	n, err := a.Plugins.Queue.Replay(r.Context(), r.PathValue("plugin"), did)
	if err != nil {
		return err
	}
	if n == 0 {
		return fault.NotFoundf("delivery", "Plugin %s has no failed delivery %d to replay.", r.PathValue("plugin"), did)
	}
	a.Plugins.Wake()
	writeJSON(w, http.StatusOK, map[string]any{"replayed": n})
	return nil
}

type replayRange struct {
	From time.Time `json:"from" validate:"required"`
	To   time.Time `json:"to" validate:"required,gtfield=From"`
}

func (a *API) replayDeliveries(w http.ResponseWriter, r *http.Request, p *principal) error {
	if err := a.masterOnly(r, p); err != nil {
		return err
	}
	var body replayRange
	if err := decodeJSON(r, &body); err != nil {
		return err
	}
	if err := fault.Validate(body); err != nil {
		return err
	}
	id := r.PathValue("plugin")
	if _, err := a.Plugins.Catalogue.Get(r.Context(), id); err != nil {
		return err
	}
	n, err := a.Plugins.Queue.ReplayRange(r.Context(), id, body.From, body.To)
	if err != nil {
		return err
	}
	a.Plugins.Wake()
	writeJSON(w, http.StatusOK, map[string]any{"replayed": n})
	return nil
}

func (a *API) pluginSettings(w http.ResponseWriter, r *http.Request, p *principal) error {
	id, _, err := a.seeUnit(r, p)
	if err != nil {
		return err
	}
	return reply(w, http.StatusOK)(a.Plugins.Settings.View(r.Context(), r.PathValue("plugin"), id))
}

type pluginSettingsBody struct {
	Mode    settings.Mode  `json:"mode"`
	Enabled bool           `json:"enabled"`
	Values  map[string]any `json:"values"`
}

func (a *API) savePluginSettings(w http.ResponseWriter, r *http.Request, p *principal) error {
	id, sc, err := a.seeUnit(r, p)
	if err != nil {
		return err
	}
	var body pluginSettingsBody
	if err := decodeJSON(r, &body); err != nil {
		return err
	}
	if body.Mode == "" {
		body.Mode = settings.ModeUnit
	}
	plugin := r.PathValue("plugin")
	targets, err := a.Plugins.SaveSettings(r.Context(), pluginsettings.SaveRequest{
		PluginID: plugin, UnitID: id, Mode: body.Mode, Enabled: body.Enabled, Values: body.Values,
		ActorID: p.Actor.ID, ActorIsMaster: sc.IsMaster(),
		InScope: func(u settings.Unit) bool { return sc.Manages(u.ID) },
	})
	if err != nil {
		return err
	}
	view, err := a.Plugins.Settings.View(r.Context(), plugin, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"settings": view, "saved_for": targets})
	return nil
}

func (a *API) resetPluginSettings(w http.ResponseWriter, r *http.Request, p *principal) error {
	id, sc, err := a.seeUnit(r, p)
	if err != nil {
		return err
	}
	plugin := r.PathValue("plugin")
	if err := a.Plugins.ResetSettings(r.Context(), plugin, id, func(u settings.Unit) bool { return sc.Manages(u.ID) }); err != nil {
		return err
	}
	return reply(w, http.StatusOK)(a.Plugins.Settings.View(r.Context(), plugin, id))
}
