package web

// The Plugins tab's strings (static/plugins.js), merged into the page
// catalogues. Plugin names, setting labels and help come from the plugin's
// manifest and are shown as written; only the admin centre's own words are
// translated here.
var pluginsEN = map[string]string{
	"plugins_installed": "Installed plugins", "plugins_none": "No plugin is installed.",
	"plugins_read_only": "Only master administrators enable or disable plugins; you see their state.",
	"plugin_version":    "Version", "plugin_last_error": "Last error", "plugin_bundled": "bundled",
	"plugin_configure": "Configure", "plugin_enable": "Enable", "plugin_disable": "Disable",
	"plugin_enabled": "{name} is enabled.", "plugin_disabled": "{name} is disabled.",
	"plugin_failures":  "{n} failure(s)",
	"plugin_off_note":  "This plugin is disabled for the whole hub: settings can be prepared, nothing is sent until a master administrator enables it.",
	"pstate_installed": "installed", "pstate_starting": "starting", "pstate_running": "running", "pstate_failed": "failed",
	"pstate_stopped": "stopped", "pstate_disabled": "disabled",
	"plugin_settings_kinds": "Plugin settings are set on the organisation, on technician groups and on channels. Select one of them in the tree.",
	"plugin_settings_for":   "Settings for {name}", "plugin_unit_enabled": "Enabled for this unit",
	"plugin_required": "(required)", "plugin_none": "(none)",
	"plugin_locked": "Set on {name}: it cannot differ here.",
	"secret_set":    "set", "secret_not_set": "not set", "secret_keep": "(unchanged; type to replace)",
	"secret_clear":           "Clear the stored secret",
	"deliveries_title":       "Delivery log",
	"deliveries_hint":        "Every event sent to this plugin, newest first, across all units. Failed deliveries can be sent again.",
	"deliveries_master_only": "Only master administrators see the delivery log.",
	"deliveries_none":        "No delivery matches.", "deliveries_older": "Older deliveries",
	"delivery_filter": "State", "delivery_event": "Event", "delivery_session": "Session", "delivery_attempts": "Attempts",
	"dstate_all": "All", "dstate_pending": "pending", "dstate_blocked": "waiting for an earlier one", "dstate_running": "running", "dstate_delivered": "delivered",
	"dstate_failed": "failed", "dstate_skipped": "skipped",
	"outcome_ack": "acknowledged", "outcome_retry": "retry", "outcome_permanent": "failed for good",
	"outcome_error": "no answer", "outcome_skipped": "skipped",
	"attempts_n": "{n} attempt(s)", "duration_ms": "{n} ms", "refresh": "Refresh",
	"replay": "Replay", "replayed_n": "Queued again: {n}.",
	"replay_range_title": "Replay the failed deliveries of a time range", "replay_from": "From", "replay_to": "To",
	"replay_range":       "Replay",
	"err_plugin_refused": "The plugin refused these settings.",
	"err_master_only":    "Only master administrators can do this.",
}

var pluginsFR = map[string]string{
	"plugins_installed": "Extensions installées", "plugins_none": "Aucune extension n'est installée.",
	"plugins_read_only": "Seuls les administrateurs principaux activent ou désactivent les extensions ; vous voyez leur état.",
	"plugin_version":    "Version", "plugin_last_error": "Dernière erreur", "plugin_bundled": "intégrée",
	"plugin_configure": "Configurer", "plugin_enable": "Activer", "plugin_disable": "Désactiver",
	"plugin_enabled": "{name} est activée.", "plugin_disabled": "{name} est désactivée.",
	"plugin_failures":  "{n} échec(s)",
	"plugin_off_note":  "Cette extension est désactivée pour tout le serveur : les paramètres peuvent être préparés, rien n'est envoyé avant qu'un administrateur principal l'active.",
	"pstate_installed": "installée", "pstate_starting": "démarrage", "pstate_running": "en marche", "pstate_failed": "en échec",
	"pstate_stopped": "arrêtée", "pstate_disabled": "désactivée",
	"plugin_settings_kinds": "Les paramètres des extensions se définissent sur l'organisation, les groupes de techniciens et les canaux. Choisissez-en un dans l'arbre.",
	"plugin_settings_for":   "Paramètres de {name}", "plugin_unit_enabled": "Activée pour cette unité",
	"plugin_required": "(obligatoire)", "plugin_none": "(aucun)",
	"plugin_locked": "Défini sur {name} : ne peut pas différer ici.",
	"secret_set":    "défini", "secret_not_set": "non défini", "secret_keep": "(inchangé ; saisissez pour remplacer)",
	"secret_clear":           "Effacer le secret enregistré",
	"deliveries_title":       "Journal des envois",
	"deliveries_hint":        "Chaque événement envoyé à cette extension, du plus récent au plus ancien, toutes unités confondues. Les envois en échec peuvent être relancés.",
	"deliveries_master_only": "Seuls les administrateurs principaux voient le journal des envois.",
	"deliveries_none":        "Aucun envoi ne correspond.", "deliveries_older": "Envois plus anciens",
	"delivery_filter": "État", "delivery_event": "Événement", "delivery_session": "Session", "delivery_attempts": "Tentatives",
	"dstate_all": "Tous", "dstate_pending": "en attente", "dstate_blocked": "derrière une précédente", "dstate_running": "en cours", "dstate_delivered": "remis",
	"dstate_failed": "en échec", "dstate_skipped": "ignoré",
	"outcome_ack": "accusé de réception", "outcome_retry": "à réessayer", "outcome_permanent": "échec définitif",
	"outcome_error": "pas de réponse", "outcome_skipped": "ignoré",
	"attempts_n": "{n} tentative(s)", "duration_ms": "{n} ms", "refresh": "Actualiser",
	"replay": "Relancer", "replayed_n": "Remis en file : {n}.",
	"replay_range_title": "Relancer les envois en échec d'une période", "replay_from": "Du", "replay_to": "Au",
	"replay_range":       "Relancer",
	"err_plugin_refused": "L'extension a refusé ces paramètres.",
	"err_master_only":    "Seuls les administrateurs principaux peuvent faire cela.",
}

func init() {
	for k, v := range pluginsEN {
		en[k] = v
	}
	for k, v := range pluginsFR {
		fr[k] = v
	}
}
