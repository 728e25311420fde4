package relay

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/coder/websocket"
	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/fault"
	"github.com/tetherhq/tether/core/org"
)

// Tools are the console tools a technician may report (SESS-14), each
// allowed by the ORG-7 permission of the same name.
var Tools = map[string]func(org.Permissions) bool{
	"remote_control":      func(p org.Permissions) bool { return p.RemoteControl },
	"desktop_view":        func(p org.Permissions) bool { return p.DesktopView },
	"manage_files":        func(p org.Permissions) bool { return p.ManageFiles },
	"system_info":         func(p org.Permissions) bool { return p.SystemInfo },
	"reboot":              func(p org.Permissions) bool { return p.Reboot },
	"record_sessions":     func(p org.Permissions) bool { return p.RecordSessions },
	"windows_credentials": func(p org.Permissions) bool { return p.WindowsCredentials },
	"clipboard_sync":      func(p org.Permissions) bool { return p.ClipboardSync },
	"deploy_calling_card": func(p org.Permissions) bool { return p.DeployCallingCard },
	"share_screen":        func(p org.Permissions) bool { return p.ShareScreen },
	"configure_mobile":    func(p org.Permissions) bool { return p.ConfigureMobile },
	"deploy_scripts":      func(p org.Permissions) bool { return p.DeployScripts },
	"unattended_access":   func(p org.Permissions) bool { return p.UnattendedAccess },
}

const maxURLBytes = 2048

func (c *conn) handleText(data []byte) {
	var f ClientFrame
	if err := json.Unmarshal(data, &f); err != nil || f.Type == "" {
		c.sendError("", fault.New(fault.BadRequest, "bad_request", `A frame is a JSON object with a "type".`))
		return
	}
	ref := f.ClientMsgID
	if ref == "" {
		ref = f.Type
	}
	first := !c.first
	c.first = true
	if f.Type == TypeResume {
		c.resume(first, f, ref)
		return
	}
	if first {
		c.start(0)
	}
	if !c.limiter.allow(c.srv.now()) {
		c.strikes++
		if c.strikes >= c.srv.limits.RateStrikes {
			c.close(CloseRateLimited, "rate limit")
			return
		}
		c.sendError(ref, fault.New(fault.TooMany, "rate_limited", "Too many frames; slow down (%g per second).", c.srv.limits.RatePerSecond))
		return
	}
	c.strikes = 0
	switch f.Type {
	case TypePing:
		c.send(pongFrame{Type: TypePong})
	case TypeAck:
		// Informational: resume_after on the next connection is what counts.
	default:
		if err := c.act(f); err != nil {
			c.sendError(ref, err)
		}
	}
}

func (c *conn) resume(first bool, f ClientFrame, ref string) {
	if f.After == nil || *f.After < 0 {
		c.sendError(ref, fault.Field("after", "must be a sequence number (0 or more)"))
		return
	}
	if first {
		c.start(*f.After)
	}
	if c.resumeAfter != *f.After || !first {
		c.sendError(ref, fault.New(fault.BadRequest, "bad_request",
			"resume is only accepted as the first frame of a connection without resume_after in its URL."))
	}
}

// act performs one action. Refusals are returned as faults; the caller
// turns them into error frames.
func (c *conn) act(f ClientFrame) error {
	ctx := c.ctx
	v, err := c.view(ctx)
	if err != nil {
		if fault.IsKind(err, fault.Forbidden) || fault.IsKind(err, fault.NotFound) {
			c.close(CloseNotAllowed, "no longer in this session")
		}
		return err
	}
	if !v.info.Live {
		return errEnded(c.sessionID)
	}
	if c.isCustomer() {
		switch f.Type {
		case TypeChat, TypeFileOffer, TypeFileAccept:
		case TypeNote, TypeURL, TypeTool, TypeChatToggle, TypeInvite, TypeLeave:
			return c.forbid(f.Type, "", "Only technicians can do that.")
		default:
			return unknownType(f.Type)
		}
	}
	switch f.Type {
	case TypeChat:
		return c.chat(ctx, v, f)
	case TypeNote:
		return c.note(ctx, f)
	case TypeURL:
		return c.pushURL(ctx, v, f)
	case TypeFileOffer:
		return c.fileOffer(ctx, v, f)
	case TypeFileAccept:
		return c.fileAccept(ctx, v, f)
	case TypeTool:
		return c.tool(ctx, v, f)
	case TypeChatToggle:
		return c.chatToggle(ctx, v, f)
	case TypeInvite:
		return c.invite(ctx, v, f)
	case TypeLeave:
		return c.leave(ctx, v, f)
	}
	return unknownType(f.Type)
}

func unknownType(t string) error {
	return fault.New(fault.BadRequest, "unknown_type", "Unknown frame type %q.", t)
}

// forbid refuses an action and logs it, naming the permission but never the
// message text.
func (c *conn) forbid(action, permission, message string) error {
	c.srv.logger.Warn("relay action refused", "session", c.sessionID, "sender", c.viewer.Kind,
		"sender_id", c.viewer.ID, "action", action, "permission", permission)
	return fault.Forbiddenf("forbidden", "%s", message)
}

func (c *conn) forbidPermission(action, permission string) error {
	return c.forbid(action, permission, fmt.Sprintf("Your technician group does not have the permission %q.", permission))
}

// store appends m, wakes the session's sockets, acknowledges and records
// activity: in that order, so an ack always means "stored".
func (c *conn) store(ctx context.Context, db bun.IDB, m Message) (Message, error) {
	m.SessionID = c.sessionID
	m.SenderKind = c.viewer.Kind
	m.SenderID = c.viewer.ID
	out, err := c.srv.log.Append(ctx, db, m)
	if err != nil {
		return Message{}, err
	}
	c.stored(out, m.ClientMsgID)
	return out, nil
}

// stored publishes a committed message, acknowledges the frame that caused
// it (clientMsgID may be empty: no ack) and records activity.
func (c *conn) stored(m Message, clientMsgID string) {
	c.srv.hub.publish(m)
	c.srv.observeStored(m.Kind, c.arrived)
	if clientMsgID != "" {
		c.send(ackFrame{Type: TypeAck, ClientMsgID: clientMsgID, Seq: m.Seq})
	}
	c.touch()
}

// touch reports activity, at most once per ActivityInterval.
func (c *conn) touch() {
	now := c.srv.now()
	if iv := c.srv.limits.ActivityInterval; iv > 0 && !c.lastActivity.IsZero() && now.Sub(c.lastActivity) < iv {
		return
	}
	c.lastActivity = now
	if err := c.srv.sessions.Activity(c.ctx, c.sessionID, c.viewer); err != nil && c.ctx.Err() == nil {
		c.srv.logger.Error("session activity", "session", c.sessionID, "error", err)
	}
}

func checkText(text string) error {
	if strings.TrimSpace(text) == "" {
		return fault.Field("text", "must not be empty")
	}
	if !utf8.ValidString(text) {
		return fault.Field("text", "must be UTF-8")
	}
	if utf8.RuneCountInString(text) > MaxTextRunes {
		return fault.Field("text", fmt.Sprintf("at most %d characters", MaxTextRunes))
	}
	return nil
}

func (c *conn) chat(ctx context.Context, v sessionView, f ClientFrame) error {
	if err := checkText(f.Text); err != nil {
		return err
	}
	audience := f.Audience
	if audience == "" {
		audience = AudienceAll
	}
	switch {
	case audience == AudienceTechnicians && !c.isCustomer():
		// Technician-only chat is collaboration, not customer chat: the
		// chat modes do not apply to it.
	case audience != AudienceAll:
		return fault.Field("audience", `must be "all" or, for technicians, "technicians"`)
	case v.chatMode == "":
		return fault.New(fault.Conflict, "chat_unavailable", "Chat opens when a technician picks up the session.")
	default:
		if !c.isCustomer() && v.perms.ChatMode() == org.ChatOff {
			return c.forbidPermission(TypeChat, "chat")
		}
		on, err := c.srv.log.ChatEnabled(ctx, c.sessionID, v.chatMode)
		if err != nil {
			return err
		}
		if !on {
			if c.isCustomer() {
				return c.forbid(TypeChat, "chat", "Chat is turned off in this session.")
			}
			return c.forbid(TypeChat, "chat", fmt.Sprintf("Chat is off in this session (chat mode %q of permission \"chat\").", v.chatMode))
		}
	}
	_, err := c.store(ctx, c.srv.db, Message{Kind: KindChat, Audience: audience, Body: f.Text, ClientMsgID: f.ClientMsgID})
	return err
}

func (c *conn) note(ctx context.Context, f ClientFrame) error {
	if err := checkText(f.Text); err != nil {
		return err
	}
	_, err := c.store(ctx, c.srv.db, Message{Kind: KindNote, Audience: AudienceTechnicians, Body: f.Text, ClientMsgID: f.ClientMsgID})
	return err
}

func (c *conn) pushURL(ctx context.Context, v sessionView, f ClientFrame) error {
	if !v.perms.SendURLs {
		return c.forbidPermission(TypeURL, "send_urls")
	}
	u, err := url.Parse(f.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(f.URL) > maxURLBytes {
		return fault.Field("url", fmt.Sprintf("must be an http or https URL of at most %d bytes", maxURLBytes))
	}
	_, err = c.store(ctx, c.srv.db, Message{Kind: KindURL, Body: f.URL, ClientMsgID: f.ClientMsgID})
	return err
}

func (c *conn) fileOffer(ctx context.Context, v sessionView, f ClientFrame) error {
	if !c.isCustomer() && !v.perms.SendFiles {
		return c.forbidPermission(TypeFileOffer, "send_files")
	}
	offer := FileOffer{Name: strings.TrimSpace(f.Name), Size: f.Size, SHA256: strings.ToLower(f.SHA256)}
	bad := map[string]string{}
	if offer.Name == "" || len(offer.Name) > 255 || strings.ContainsAny(offer.Name, "/\\\x00") {
		bad["name"] = "must be a file name (no path) of 1 to 255 bytes"
	}
	if offer.Size <= 0 {
		bad["size"] = "must be the file's size in bytes"
	}
	if b, err := hex.DecodeString(offer.SHA256); err != nil || len(b) != 32 {
		bad["sha256"] = "must be the file's SHA-256 as 64 hexadecimal digits"
	}
	if len(bad) > 0 {
		return fault.Fields(bad)
	}
	raw, _ := json.Marshal(offer)
	_, err := c.store(ctx, c.srv.db, Message{Kind: KindFileOffer, Body: offer.Name, Payload: raw, ClientMsgID: f.ClientMsgID})
	return err
}

func (c *conn) fileAccept(ctx context.Context, v sessionView, f ClientFrame) error {
	if !c.isCustomer() && !v.perms.ReceiveFiles {
		return c.forbidPermission(TypeFileAccept, "receive_files")
	}
	if f.OfferSeq <= 0 {
		return fault.Field("offer_seq", "must be the seq of a file_offer message")
	}
	m, err := c.srv.log.Get(ctx, c.sessionID, f.OfferSeq)
	if err != nil {
		return err
	}
	if m.Kind != KindFileOffer {
		return fault.Field("offer_seq", "must be the seq of a file_offer message")
	}
	if (m.SenderKind == SenderCustomer) == c.isCustomer() {
		return fault.Field("offer_seq", "an offer is accepted by the other side")
	}
	var offer FileOffer
	if err := json.Unmarshal(m.Payload, &offer); err != nil {
		return fmt.Errorf("file offer %d: %w", m.Seq, err)
	}
	raw, _ := json.Marshal(FileAccept{OfferSeq: m.Seq, Name: offer.Name, Size: offer.Size, SHA256: offer.SHA256})
	_, err = c.store(ctx, c.srv.db, Message{Kind: KindFileAccept, Body: offer.Name, Payload: raw, ClientMsgID: f.ClientMsgID})
	return err
}

func (c *conn) tool(ctx context.Context, v sessionView, f ClientFrame) error {
	allowed, ok := Tools[f.Name]
	if !ok {
		return fault.Field("name", "unknown tool")
	}
	if !allowed(v.perms) {
		return c.forbidPermission(TypeTool, f.Name)
	}
	if err := c.srv.sessions.ToolUsed(ctx, c.sessionID, f.Name); err != nil {
		return err
	}
	if f.ClientMsgID != "" {
		c.send(ackFrame{Type: TypeAck, ClientMsgID: f.ClientMsgID})
	}
	c.touch()
	return nil
}

func (c *conn) chatToggle(ctx context.Context, v sessionView, f ClientFrame) error {
	if f.Enabled == nil {
		return fault.Field("enabled", "must be true or false")
	}
	if v.chatMode != org.ChatOnToggle && v.chatMode != org.ChatOffToggle {
		return c.forbid(TypeChatToggle, "chat_toggle",
			fmt.Sprintf("Chat cannot be toggled in this session (chat mode %q; permission \"chat_toggle\").", v.chatMode))
	}
	if !v.perms.ChatToggle {
		return c.forbidPermission(TypeChatToggle, "chat_toggle")
	}
	raw, _ := json.Marshal(ChatToggle{Enabled: *f.Enabled})
	body := "Chat was turned off."
	if *f.Enabled {
		body = "Chat was turned on."
	}
	_, err := c.store(ctx, c.srv.db, Message{Kind: KindChatToggle, Body: body, Payload: raw, ClientMsgID: f.ClientMsgID})
	return err
}

func (c *conn) invite(ctx context.Context, v sessionView, f ClientFrame) error {
	if v.role != RoleOwner {
		return c.forbid(TypeInvite, "invite_collaborators", "Only the session's owner can invite collaborators.")
	}
	if !v.perms.InviteCollaborators {
		return c.forbidPermission(TypeInvite, "invite_collaborators")
	}
	m, err := c.srv.collab.Invite(ctx, c.sessionID, c.viewer.ID, f.TechnicianID)
	if err != nil {
		return err
	}
	c.stored(m, f.ClientMsgID)
	return nil
}

func (c *conn) leave(ctx context.Context, v sessionView, f ClientFrame) error {
	if v.role != RoleCollaborator {
		return fault.New(fault.Conflict, "not_collaborator", "Only collaborators leave a session; owners close or transfer it.")
	}
	m, err := c.srv.collab.Leave(ctx, c.sessionID, c.viewer.ID)
	if err != nil {
		return err
	}
	c.stored(m, f.ClientMsgID)
	c.close(websocket.StatusNormalClosure, "left the session")
	return nil
}
