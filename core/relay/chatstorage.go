package relay

// ChatStorageSection is the settings section of P2U-3's second option, per
// technician group.
const ChatStorageSection = "chat_storage"

// ChatStorage is the "chat_storage" settings section: whether the hub keeps
// chat text in its own storage (P2U-3). Off, only system messages and notes
// are stored; chat is relayed live and kept in memory for sides that catch
// up until the session ends (see Log.SetKeepChatText).
type ChatStorage struct {
	KeepChatText bool `json:"keep_chat_text"`
}

// DefaultChatStorage keeps chat text.
func DefaultChatStorage() *ChatStorage { return &ChatStorage{KeepChatText: true} }
