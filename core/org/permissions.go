package org

// Permissions are the technician-group permissions of ORG-7. They are stored
// as the "permissions" settings section of technician groups, so technicians
// inherit them from their group and subgroups from their parents (ORG-8).
type Permissions struct {
	Chat                bool `json:"chat"`
	ChatToggle          bool `json:"chat_toggle"`
	RemoteControl       bool `json:"remote_control"`
	DesktopView         bool `json:"desktop_view"`
	SendFiles           bool `json:"send_files"`
	ReceiveFiles        bool `json:"receive_files"`
	ManageFiles         bool `json:"manage_files"`
	SendURLs            bool `json:"send_urls"`
	SystemInfo          bool `json:"system_info"`
	Reboot              bool `json:"reboot"`
	RecordSessions      bool `json:"record_sessions"`
	PrivateSessions     bool `json:"private_sessions"`
	SinglePrompt        bool `json:"single_prompt"`
	Transfer            bool `json:"transfer"`
	WindowsCredentials  bool `json:"windows_credentials"`
	ClipboardSync       bool `json:"clipboard_sync"`
	DeployCallingCard   bool `json:"deploy_calling_card"`
	ShareScreen         bool `json:"share_screen"`
	InviteCollaborators bool `json:"invite_collaborators"`
	ConfigureMobile     bool `json:"configure_mobile"`
	EditCustomFields    bool `json:"edit_custom_fields"`
	DeployScripts       bool `json:"deploy_scripts"`
	UnattendedAccess    bool `json:"unattended_access"`
}

// PermissionsSection is the settings section name.
const PermissionsSection = "permissions"

// DefaultPermissions is what a group has until an administrator changes it:
// everything a technician needs for ordinary support, nothing that reaches a
// customer's machine beyond the session (scripts, stored credentials,
// unattended access) until an administrator turns it on.
func DefaultPermissions() *Permissions {
	return &Permissions{
		Chat: true, ChatToggle: true, RemoteControl: true, DesktopView: true, SendFiles: true,
		ReceiveFiles: true, ManageFiles: true, SendURLs: true, SystemInfo: true, Reboot: true,
		RecordSessions: true, PrivateSessions: true, SinglePrompt: false, Transfer: true,
		WindowsCredentials: false, ClipboardSync: true, DeployCallingCard: true, ShareScreen: true,
		InviteCollaborators: true, ConfigureMobile: true, EditCustomFields: true,
		DeployScripts: false, UnattendedAccess: false,
	}
}

// ChatMode is how chat behaves at session start (ORG-7).
type ChatMode string

const (
	ChatOn        ChatMode = "on"         // chat on, technician cannot turn it off
	ChatOnToggle  ChatMode = "on_toggle"  // chat on at start, technician may toggle
	ChatOffToggle ChatMode = "off_toggle" // chat off at start, technician may turn it on
	ChatOff       ChatMode = "off"        // no chat
)

// ChatMode derives the chat behaviour from the two chat permissions.
func (p Permissions) ChatMode() ChatMode {
	switch {
	case p.Chat && p.ChatToggle:
		return ChatOnToggle
	case p.Chat:
		return ChatOn
	case p.ChatToggle:
		return ChatOffToggle
	default:
		return ChatOff
	}
}
