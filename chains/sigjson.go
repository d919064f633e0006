package chains

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// sigJSONObject decodes a signature field that holds a JSON object (Tezos,
// Substrate) into its raw members. Keys are matched exactly, as the
// reference node's dictionaries do, not case-insensitively as encoding/json
// matches struct fields.
func sigJSONObject(s string) (map[string]json.RawMessage, error) {
	if len(s) > maxEncodedLen {
		return nil, fmt.Errorf("signature JSON too long (%d bytes)", len(s))
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal([]byte(s), &fields); err != nil {
		return nil, fmt.Errorf("decode signature JSON: %w", err)
	}
	if fields == nil {
		return nil, fmt.Errorf("signature JSON is null, not an object")
	}
	return fields, nil
}

// sigJSONString returns the string member key of fields and whether it is
// present. A member that is present but not a string (null included) is an
// error.
func sigJSONString(fields map[string]json.RawMessage, key string) (string, bool, error) {
	raw, ok := fields[key]
	if !ok {
		return "", false, nil
	}
	if bytes.Equal(raw, []byte("null")) {
		return "", true, fmt.Errorf("%q is null", key)
	}
	var v string
	if err := json.Unmarshal(raw, &v); err != nil {
		return "", true, fmt.Errorf("%q is not a string: %w", key, err)
	}
	return v, true, nil
}

// optionalJSONString returns the string member key of obj, or def when obj
// has no such member, as Python's dict.get(key, def) does. A member that is
// present but not a string (null included) is an error.
func optionalJSONString(obj map[string]json.RawMessage, key, def string) (string, error) {
	v, ok, err := sigJSONString(obj, key)
	if !ok {
		return def, nil
	}
	return v, err
}
