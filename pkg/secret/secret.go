// Package secret holds the one place where servagent makes, compares and
// hashes secrets: API keys, OAuth client secrets, codes and tokens.
package secret

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
)

// Equal reports whether a and b are the same secret, in time that depends
// only on their lengths, so a remote caller cannot guess a key byte by byte.
func Equal(a, b string) bool {
	// Hash first so that the comparison does not leak the length of the
	// expected secret either.
	ha := sha256.Sum256([]byte(a))
	hb := sha256.Sum256([]byte(b))
	return subtle.ConstantTimeCompare(ha[:], hb[:]) == 1
}

// NewKey returns a random URL-safe secret with 256 bits of entropy.
func NewKey() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		// crypto/rand never fails on Linux; a failure means the process
		// cannot make secrets at all and must not continue.
		panic("secret: crypto/rand failed: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// NewHex returns n random bytes as lowercase hex.
func NewHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("secret: crypto/rand failed: " + err.Error())
	}
	return hex.EncodeToString(b)
}

// Hash returns the hex SHA-256 of a token, the only form in which tokens
// and codes are stored.
func Hash(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}
