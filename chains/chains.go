package chains

import (
	"fmt"
	"sort"
)

// Chain is the name of a chain as it appears in a message's "chain" field.
type Chain string

// Signed is the part of a message that a signature covers, plus the fields
// some schemes need to check it.
type Signed struct {
	Chain     Chain
	Sender    string
	Type      string // the wire type, e.g. "POST" or "V-PROGRAM"
	ItemHash  string
	Signature string
	// Time is the message's "time" field (epoch seconds). Only the Tezos
	// micheline wrapper uses it.
	Time float64
}

// Buffer returns the bytes every chain signs: the chain, sender, type and
// item hash joined by newlines, exactly as sent (the sender is not
// normalised).
func (s Signed) Buffer() []byte {
	b := make([]byte, 0, len(s.Chain)+len(s.Sender)+len(s.Type)+len(s.ItemHash)+3)
	b = append(b, s.Chain...)
	b = append(b, '\n')
	b = append(b, s.Sender...)
	b = append(b, '\n')
	b = append(b, s.Type...)
	b = append(b, '\n')
	b = append(b, s.ItemHash...)
	return b
}

// Verifier checks the signature of one message for the chains it is
// registered for. It returns nil when the signature is valid for the sender,
// and an error wrapping ErrInvalidSignature otherwise. It must never panic,
// whatever the input.
type Verifier interface {
	Verify(s Signed) error
}

// VerifierFunc adapts a function to Verifier.
type VerifierFunc func(s Signed) error

// Verify calls f.
func (f VerifierFunc) Verify(s Signed) error { return f(s) }

// verifiers maps each supported chain to its verifier. It is written only by
// register, from init functions, and read-only afterwards.
var verifiers = map[Chain]Verifier{}

// register adds v as the verifier of the given chains. It panics on a
// duplicate registration, which is a programming error caught by any test.
func register(v Verifier, chains ...Chain) {
	for _, c := range chains {
		if _, dup := verifiers[c]; dup {
			panic(fmt.Sprintf("chains: verifier for %s registered twice", c))
		}
		verifiers[c] = v
	}
}

// Verify checks s's signature with the verifier registered for s.Chain.
// The error wraps ErrUnsupportedChain for a chain without a verifier,
// ErrMissingSignature for an empty signature, and ErrInvalidSignature for a
// signature that does not verify or cannot be decoded.
func Verify(s Signed) error {
	v, ok := verifiers[s.Chain]
	if !ok {
		return fmt.Errorf("%w: %q", ErrUnsupportedChain, s.Chain)
	}
	if s.Signature == "" {
		return ErrMissingSignature
	}
	return v.Verify(s)
}

// Supported reports whether chain c has a registered verifier.
func Supported(c Chain) bool {
	_, ok := verifiers[c]
	return ok
}

// SupportedChains returns the chains with a registered verifier, sorted.
func SupportedChains() []Chain {
	out := make([]Chain, 0, len(verifiers))
	for c := range verifiers {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// invalid returns an error wrapping ErrInvalidSignature with a reason.
func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidSignature, fmt.Sprintf(format, args...))
}

// Interface guards
var _ Verifier = VerifierFunc(nil)
