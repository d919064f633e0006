package evm_test

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
)

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func getenv(k string) string { return os.Getenv(k) }
