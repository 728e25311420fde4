// Package auth owns passwords (policy and argon2id hashing), sign-in with throttling and IP rules,
// and the bearer tokens kept in auth_tokens and the attempts kept in sign_in_attempts.
// It reaches members only through the Directory interface and never imports core/org or HTTP.
package auth
