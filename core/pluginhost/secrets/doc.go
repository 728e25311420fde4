// Package secrets owns the hub's secret key and the sealing of values stored at rest (AES-256-GCM).
// It loads the key from TETHER_SECRET_KEY or creates <data-dir>/secret.key once, readable by the hub only.
// It must not log, store or return plaintext anywhere but to its caller, and knows nothing of what it seals.
package secrets
