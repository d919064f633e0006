package graph

import (
	"encoding/base64"
	"encoding/json"
	"strings"

	"github.com/alephql/alephql/graph/model"
)

// Node type names encoded in global ids. They are part of the API: ids
// handed out must keep resolving, so never rename them.
const (
	typeMessage          = "Message"
	typePost             = "Post"
	typeAggregate        = "Aggregate"
	typeAggregateElement = "AggregateElement"
	typeFile             = "File"
	typeVM               = "VM"
	typeAccount          = "Account"
	typeChannel          = "Channel"
)

// globalID returns the opaque global id of a node: base64url of
// "<type>:<key>". Clients must not parse it; the natural key has its own
// field (hash, address, name).
func globalID(typ, key string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(typ + ":" + key))
}

// parseGlobalID splits a global id into its type and key.
func parseGlobalID(id string) (typ, key string, err error) {
	b, err := base64.RawURLEncoding.DecodeString(id)
	if err != nil {
		return "", "", userError(CodeBadUserInput, "malformed id %q", id)
	}
	typ, key, ok := strings.Cut(string(b), ":")
	if !ok || typ == "" || key == "" {
		return "", "", userError(CodeBadUserInput, "malformed id %q", id)
	}
	return typ, key, nil
}

// aggregateKey joins an aggregate's owner and key for its global id.
// Addresses never contain "/", keys may: the first "/" separates them.
func aggregateKey(owner, key string) string { return owner + "/" + key }

// encodeCursor returns the opaque cursor of a keyset position.
func encodeCursor(v any) string {
	b, _ := json.Marshal(v) // cursor types are plain structs
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeCursor reads a cursor made by encodeCursor into v.
func decodeCursor(s string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		err = json.Unmarshal(b, v)
	}
	if err != nil {
		return userError(CodeBadUserInput, "malformed cursor %q", s)
	}
	return nil
}

// messageTypeOf maps a stored message type ("V-PROGRAM") to the enum.
func messageTypeOf(s string) model.MessageType {
	return model.MessageType(strings.ReplaceAll(s, "-", "_"))
}

// storedMessageType maps the enum to the stored type.
func storedMessageType(t model.MessageType) string {
	return strings.ReplaceAll(string(t), "_", "-")
}

// enumOf maps a stored lower-case value ("processed", "grace_period",
// "vprogram") to its upper-case GraphQL enum value.
func enumOf[E ~string](s string) E {
	if s == "vprogram" {
		return E("V_PROGRAM")
	}
	return E(strings.ToUpper(s))
}

// storedEnum maps an upper-case enum value to the stored lower-case value.
func storedEnum[E ~string](e E) string {
	if e == "V_PROGRAM" {
		return "vprogram"
	}
	return strings.ToLower(string(e))
}

// optEnum is enumOf for nullable columns.
func optEnum[E ~string](s *string) *E {
	if s == nil || *s == "" {
		return nil
	}
	e := enumOf[E](*s)
	return &e
}
