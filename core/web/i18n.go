package web

import (
	"net/http"
	"strconv"
	"strings"
)

// catalogue holds every page string in English and French. Unit and custom
// field names are never translated (AUTH-4); they come from the data.
var catalogue = map[string]map[string]string{"en": en, "fr": fr}

// messages is the catalogue of lang, English when unknown.
func messages(lang string) map[string]string {
	if m, ok := catalogue[lang]; ok {
		return m
	}
	return en
}

// customerLang follows the browser's Accept-Language, English as fallback.
func customerLang(r *http.Request) string {
	return acceptLanguage(r.Header.Get("Accept-Language"))
}

// staffLang is the language chosen with the selector, else the browser's.
func staffLang(r *http.Request) string {
	if c, err := r.Cookie(LangCookie); err == nil {
		if _, ok := catalogue[c.Value]; ok {
			return c.Value
		}
	}
	return customerLang(r)
}

// acceptLanguage picks the supported language with the highest q value.
func acceptLanguage(h string) string {
	best, bestQ := "en", -1.0
	for _, part := range strings.Split(h, ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				q = f
			}
		}
		base, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(tag)), "-")
		if _, ok := catalogue[base]; ok && q > bestQ && q > 0 {
			best, bestQ = base, q
		}
	}
	return best
}

var en = map[string]string{
	"skip_to_content": "Skip to content", "language": "Language", "apply": "Apply", "sign_out": "Sign out",
	"channel_unknown": "This support link does not exist.", "channel_intro": "Tell us who you are and a technician will be with you shortly.",
	"channel_submit": "Start chat", "tracking_id": "Tracking ID", "pin_link": "I have a 6-digit code",
	"pin_title": "Enter your code", "pin_intro": "Your technician gave you a 6-digit code.", "pin_label": "6-digit code", "pin_submit": "Connect",
	"session_title": "Support session", "connecting_title": "Connecting…", "connecting_text": "Please wait while we connect you.",
	"terms_title": "Terms and conditions", "terms_scroll_hint": "Scroll to the end of the terms to accept them.",
	"terms_accept": "Accept", "terms_decline": "Decline",
	"waiting_title": "Please wait", "waiting_text": "A technician will be with you shortly.",
	"waiting_position": "You are number {n} in the queue.", "waiting_estimate": "Estimated waiting time: about {n} min.",
	"waiting_estimate_soon": "Estimated waiting time: less than a minute.",
	"chat_title":            "Chat", "chat_message": "Message", "send": "Send", "sending": "(sending…)", "leave": "End session",
	"leave_confirm": "End this support session?", "connection_lost": "Connection lost; reconnecting…",
	"you": "You", "sender_customer": "Customer", "sender_technician": "Technician", "sender_system": "System",
	"chat_on": "Chat is on.", "chat_off": "Chat is off.",
	"collab_invited": "Technician invited", "collab_joined": "A technician joined", "collab_left": "A technician left",
	"state_active": "A technician is with you.", "state_on_hold": "Your session is on hold.", "state_transferring": "You are being transferred.",
	"state_rebooting": "Rebooting…", "state_reconnecting": "Reconnecting…", "state_waiting": "Waiting", "state_connecting": "Connecting",
	"end_title": "Session ended", "end_default": "Your support session has ended. Thank you.",
	"end_declined_terms":     "You declined the terms and conditions, so the session has ended.",
	"end_closed_by_customer": "You ended the session. Thank you.", "end_closed_by_technician": "The technician ended the session. Thank you.",
	"end_waiting_timeout":    "Sorry, no technician could take your session in time. Please try again later.",
	"end_no_technician":      "Sorry, no technician is available right now. Please try again later.",
	"end_connecting_timeout": "The session expired before it started.", "end_idle_timeout": "The session ended after a period of inactivity.",
	"end_unknown":  "This session is no longer available.",
	"signin_title": "Sign in", "email": "E-mail address", "password": "Password", "sign_in": "Sign in",
	"password_title": "Change your password", "password_required": "You must change your password before you continue.",
	"password_policy":  "Use at least 8 characters, mixing lower and upper case letters, digits and symbols.",
	"current_password": "Current password", "new_password": "New password", "confirm_password": "New password again",
	"change_password": "Change password", "password_mismatch": "The two new passwords differ.",
	"console_title": "Technician console", "admin_title": "Admin centre",
	"status": "My status", "status_online": "Online", "status_busy": "Busy", "status_away": "Away", "status_offline": "Offline",
	"status_saved": "Status: {status}.", "queue_title": "Queue", "queue_empty": "No sessions in your queue.",
	"customer": "Customer", "state": "State", "waiting_for": "Waiting", "actions": "Actions", "live": "live", "offline": "offline",
	"open": "Open", "pick_up": "Pick up", "unnamed": "(no name)", "system": "System",
	"direction_incoming": "Incoming", "direction_outgoing": "Transferred", "transferred_by": "Transferred by {who}",
	"queue_new": "New session #{id}.", "queue_transferred_in": "Session #{id} was transferred to you.",
	"queue_transferred_out": "Session #{id} was transferred out.", "queue_taken": "Session #{id} was picked up by someone else.",
	"queue_timed_out": "Session #{id} timed out.", "queue_closed": "Session #{id} was closed.", "queue_left": "Session #{id} left your queue.",
	"queue_priority": "Priority {n}", "queue_priority_short": "P{n}",
	"private_title": "New private session", "private_create": "Create session and PIN", "private_pin": "PIN code:",
	"private_invitation": "Invitation e-mail", "private_created": "Private session #{id} created.",
	"join_title": "Join as collaborator", "join_session": "Session number", "join": "Join",
	"sessions_title": "My sessions", "workspace_empty": "Pick up a session from the queue to start.",
	"audience": "To", "audience_all": "Customer and technicians", "audience_technicians": "Technicians only", "audience_note": "Note (technicians)",
	"tag_note": "note", "tag_technicians": "technicians only",
	"invite": "Invite", "technician": "Technician", "transfer": "Transfer", "transfer_to": "Transfer to", "comment": "Comment",
	"hold": "Hold", "resume": "Resume", "close_session": "Close", "close": "Close", "dismiss": "Dismiss",
	"session_n": "Session #{id}", "transferred": "Transferred", "survey_open": "Fill in the technician survey",
	"target_technician": "Technician", "target_group": "Group", "target_channel": "Channel",
	"org_tree": "Organisation", "search": "Search", "no_results": "Nothing found.", "select_unit": "Select a unit in the tree.",
	"unit_tabs": "Unit", "tab_org": "Organisation", "tab_settings": "Settings", "tab_channels": "Channels", "tab_sessions": "Sessions",
	"tab_plugins": "Plugins", "tab_routing": "Routing",
	"kind_org": "Organisation", "kind_admin_group": "Administrator group", "kind_tech_group": "Technician group", "kind_master": "Master administrator",
	"kind_admin": "Administrator", "kind_technician": "Technician", "kind_channel": "Channel", "kind_private": "Private", "kind": "Kind",
	"group_fields": "Group", "name": "Name", "description": "Description", "save": "Save", "saved": "Saved.", "create": "Create",
	"new_tech_group": "New technician group", "new_member": "New member", "role": "Role", "nickname": "Nickname (shown to customers)",
	"member_created": "{name} was created.", "member_fields": "Member", "enabled": "Enabled", "set_password": "Set password",
	"password_set": "The password was set; it must be changed at the next sign-in.", "move_to_group": "Move to another group",
	"tech_group": "Technician group", "move": "Move", "members": "Members", "yes": "yes", "no": "no",
	"permissions": "Permissions (ORG-7)", "permissions_hint": "Change them in the Settings tab, section permissions.",
	"channel_see_tab": "See the Channels tab.", "no_settings": "This unit has no settings.",
	"source_own": "Set on this unit.", "source_inherited": "Inherited from {name}.", "source_default": "Built-in default.",
	"mode_unit": "This unit only", "mode_subtree": "This group and all its subgroups", "mode_all": "All groups / all channels of the organisation",
	"save_for": "Save for", "reset": "Inherit again", "reset_done": "The setting is inherited again.", "bad_json": "A field is not valid JSON.",
	"saved_for_n": "Saved for {n} unit(s).", "channels_of_group": "Assign channels to this group below.", "rename": "Rename",
	"assigned_groups": "Assigned technician groups", "unassign": "Remove", "assign": "Assign", "exclusions": "Excluded technicians",
	"include": "Include again", "exclude": "Exclude", "channel_link": "Channel link", "form_snippet": "Form to embed on your website",
	"copy": "Copy", "copied": "Copied.", "test_channel": "Test channel", "test_started": "Test session #{id} started; it is in the queue.",
	"no_sessions": "No active or waiting sessions.", "started": "Started", "start": "Start", "done": "Done.",
	"err_internal":            "Something went wrong on the server; please try again.",
	"err_csrf_failed":         "This form has expired. Reload the page and try again.",
	"err_code_not_found":      "This code is unknown. Check the 6 digits and try again.",
	"err_code_expired":        "This code has expired. Ask your technician for a new one.",
	"err_too_many_attempts":   "Too many attempts. Wait a while and try again.",
	"err_invalid_credentials": "The e-mail address or password is wrong.",
	"err_ip_not_allowed":      "Sign-in is not allowed from your network address (IP restriction of your group). Contact your administrator.",
	"err_member_disabled":     "This account is disabled.", "err_channel_disabled": "This channel does not take sessions right now.",
	"err_validation_failed": "Some fields are not valid.", "err_chat_unavailable": "You can write once a technician has picked up your session.",
	"err_password_change_required": "Change your password first.", "err_out_of_scope": "This is outside your scope.",
	"err_technician_unavailable": "That technician is busy, away or offline.",
}

var fr = map[string]string{
	"skip_to_content": "Aller au contenu", "language": "Langue", "apply": "Appliquer", "sign_out": "Se déconnecter",
	"channel_unknown": "Ce lien d'assistance n'existe pas.", "channel_intro": "Indiquez qui vous êtes ; un technicien va vous répondre.",
	"channel_submit": "Démarrer la discussion", "tracking_id": "Numéro de suivi", "pin_link": "J'ai un code à 6 chiffres",
	"pin_title": "Saisissez votre code", "pin_intro": "Votre technicien vous a donné un code à 6 chiffres.", "pin_label": "Code à 6 chiffres", "pin_submit": "Se connecter",
	"session_title": "Session d'assistance", "connecting_title": "Connexion…", "connecting_text": "Veuillez patienter pendant la connexion.",
	"terms_title": "Conditions générales", "terms_scroll_hint": "Faites défiler les conditions jusqu'à la fin pour les accepter.",
	"terms_accept": "J'accepte", "terms_decline": "Je refuse",
	"waiting_title": "Veuillez patienter", "waiting_text": "Un technicien va vous répondre.",
	"waiting_position": "Vous êtes numéro {n} dans la file.", "waiting_estimate": "Attente estimée : environ {n} min.",
	"waiting_estimate_soon": "Attente estimée : moins d'une minute.",
	"chat_title":            "Discussion", "chat_message": "Message", "send": "Envoyer", "sending": "(envoi…)", "leave": "Terminer la session",
	"leave_confirm": "Terminer cette session d'assistance ?", "connection_lost": "Connexion perdue ; reconnexion…",
	"you": "Vous", "sender_customer": "Client", "sender_technician": "Technicien", "sender_system": "Système",
	"chat_on": "La discussion est activée.", "chat_off": "La discussion est désactivée.",
	"collab_invited": "Technicien invité", "collab_joined": "Un technicien a rejoint la session", "collab_left": "Un technicien a quitté la session",
	"state_active": "Un technicien est avec vous.", "state_on_hold": "Votre session est en attente.", "state_transferring": "Vous êtes en cours de transfert.",
	"state_rebooting": "Redémarrage…", "state_reconnecting": "Reconnexion…", "state_waiting": "En attente", "state_connecting": "Connexion",
	"end_title": "Session terminée", "end_default": "Votre session d'assistance est terminée. Merci.",
	"end_declined_terms":     "Vous avez refusé les conditions générales ; la session est terminée.",
	"end_closed_by_customer": "Vous avez terminé la session. Merci.", "end_closed_by_technician": "Le technicien a terminé la session. Merci.",
	"end_waiting_timeout":    "Désolé, aucun technicien n'a pu prendre votre session à temps. Réessayez plus tard.",
	"end_no_technician":      "Désolé, aucun technicien n'est disponible. Réessayez plus tard.",
	"end_connecting_timeout": "La session a expiré avant de commencer.", "end_idle_timeout": "La session s'est terminée après une période d'inactivité.",
	"end_unknown":  "Cette session n'est plus disponible.",
	"signin_title": "Connexion", "email": "Adresse e-mail", "password": "Mot de passe", "sign_in": "Se connecter",
	"password_title": "Changer votre mot de passe", "password_required": "Vous devez changer votre mot de passe avant de continuer.",
	"password_policy":  "Au moins 8 caractères, en mélangeant minuscules, majuscules, chiffres et symboles.",
	"current_password": "Mot de passe actuel", "new_password": "Nouveau mot de passe", "confirm_password": "Nouveau mot de passe (confirmation)",
	"change_password": "Changer le mot de passe", "password_mismatch": "Les deux nouveaux mots de passe diffèrent.",
	"console_title": "Console technicien", "admin_title": "Centre d'administration",
	"status": "Mon statut", "status_online": "En ligne", "status_busy": "Occupé", "status_away": "Absent", "status_offline": "Hors ligne",
	"status_saved": "Statut : {status}.", "queue_title": "File d'attente", "queue_empty": "Aucune session dans votre file.",
	"customer": "Client", "state": "État", "waiting_for": "Attente", "actions": "Actions", "live": "en direct", "offline": "hors ligne",
	"open": "Ouvrir", "pick_up": "Prendre", "unnamed": "(sans nom)", "system": "Système",
	"direction_incoming": "Entrante", "direction_outgoing": "Transférée", "transferred_by": "Transférée par {who}",
	"queue_new": "Nouvelle session n° {id}.", "queue_transferred_in": "La session n° {id} vous a été transférée.",
	"queue_transferred_out": "La session n° {id} a été transférée.", "queue_taken": "La session n° {id} a été prise par quelqu'un d'autre.",
	"queue_timed_out": "La session n° {id} a expiré.", "queue_closed": "La session n° {id} a été fermée.", "queue_left": "La session n° {id} a quitté votre file.",
	"queue_priority": "Priorité {n}", "queue_priority_short": "P{n}",
	"private_title": "Nouvelle session privée", "private_create": "Créer la session et le code", "private_pin": "Code PIN :",
	"private_invitation": "E-mail d'invitation", "private_created": "Session privée n° {id} créée.",
	"join_title": "Rejoindre en collaborateur", "join_session": "Numéro de session", "join": "Rejoindre",
	"sessions_title": "Mes sessions", "workspace_empty": "Prenez une session dans la file pour commencer.",
	"audience": "À", "audience_all": "Client et techniciens", "audience_technicians": "Techniciens seulement", "audience_note": "Note (techniciens)",
	"tag_note": "note", "tag_technicians": "techniciens seulement",
	"invite": "Inviter", "technician": "Technicien", "transfer": "Transférer", "transfer_to": "Transférer à", "comment": "Commentaire",
	"hold": "Mettre en attente", "resume": "Reprendre", "close_session": "Fermer", "close": "Fermer", "dismiss": "Retirer",
	"session_n": "Session n° {id}", "transferred": "Transférée", "survey_open": "Remplir le questionnaire technicien",
	"target_technician": "Technicien", "target_group": "Groupe", "target_channel": "Canal",
	"org_tree": "Organisation", "search": "Rechercher", "no_results": "Aucun résultat.", "select_unit": "Choisissez une unité dans l'arbre.",
	"unit_tabs": "Unité", "tab_org": "Organisation", "tab_settings": "Paramètres", "tab_channels": "Canaux", "tab_sessions": "Sessions",
	"tab_plugins": "Extensions", "tab_routing": "Routage",
	"kind_org": "Organisation", "kind_admin_group": "Groupe d'administrateurs", "kind_tech_group": "Groupe de techniciens", "kind_master": "Administrateur principal",
	"kind_admin": "Administrateur", "kind_technician": "Technicien", "kind_channel": "Canal", "kind_private": "Privée", "kind": "Type",
	"group_fields": "Groupe", "name": "Nom", "description": "Description", "save": "Enregistrer", "saved": "Enregistré.", "create": "Créer",
	"new_tech_group": "Nouveau groupe de techniciens", "new_member": "Nouveau membre", "role": "Rôle", "nickname": "Pseudonyme (vu par les clients)",
	"member_created": "{name} a été créé.", "member_fields": "Membre", "enabled": "Actif", "set_password": "Définir le mot de passe",
	"password_set": "Le mot de passe est défini ; il devra être changé à la prochaine connexion.", "move_to_group": "Déplacer vers un autre groupe",
	"tech_group": "Groupe de techniciens", "move": "Déplacer", "members": "Membres", "yes": "oui", "no": "non",
	"permissions": "Autorisations (ORG-7)", "permissions_hint": "Modifiez-les dans l'onglet Paramètres, section permissions.",
	"channel_see_tab": "Voir l'onglet Canaux.", "no_settings": "Cette unité n'a pas de paramètres.",
	"source_own": "Défini sur cette unité.", "source_inherited": "Hérité de {name}.", "source_default": "Valeur par défaut.",
	"mode_unit": "Cette unité seulement", "mode_subtree": "Ce groupe et tous ses sous-groupes", "mode_all": "Tous les groupes / tous les canaux de l'organisation",
	"save_for": "Enregistrer pour", "reset": "Hériter à nouveau", "reset_done": "Le paramètre est de nouveau hérité.", "bad_json": "Un champ n'est pas du JSON valide.",
	"saved_for_n": "Enregistré pour {n} unité(s).", "channels_of_group": "Affectez des canaux à ce groupe ci-dessous.", "rename": "Renommer",
	"assigned_groups": "Groupes de techniciens affectés", "unassign": "Retirer", "assign": "Affecter", "exclusions": "Techniciens exclus",
	"include": "Réintégrer", "exclude": "Exclure", "channel_link": "Lien du canal", "form_snippet": "Formulaire à intégrer à votre site",
	"copy": "Copier", "copied": "Copié.", "test_channel": "Tester le canal", "test_started": "Session de test n° {id} lancée ; elle est dans la file.",
	"no_sessions": "Aucune session active ou en attente.", "started": "Début", "start": "Démarrer", "done": "Fait.",
	"err_internal":            "Une erreur s'est produite sur le serveur ; réessayez.",
	"err_csrf_failed":         "Ce formulaire a expiré. Rechargez la page et réessayez.",
	"err_code_not_found":      "Ce code est inconnu. Vérifiez les 6 chiffres et réessayez.",
	"err_code_expired":        "Ce code a expiré. Demandez-en un nouveau à votre technicien.",
	"err_too_many_attempts":   "Trop de tentatives. Patientez un moment et réessayez.",
	"err_invalid_credentials": "L'adresse e-mail ou le mot de passe est incorrect.",
	"err_ip_not_allowed":      "La connexion n'est pas autorisée depuis votre adresse réseau (restriction IP de votre groupe). Contactez votre administrateur.",
	"err_member_disabled":     "Ce compte est désactivé.", "err_channel_disabled": "Ce canal ne prend pas de sessions pour le moment.",
	"err_validation_failed": "Certains champs ne sont pas valides.", "err_chat_unavailable": "Vous pourrez écrire dès qu'un technicien aura pris votre session.",
	"err_password_change_required": "Changez d'abord votre mot de passe.", "err_out_of_scope": "Ceci est hors de votre périmètre.",
	"err_technician_unavailable": "Ce technicien est occupé, absent ou hors ligne.",
}
