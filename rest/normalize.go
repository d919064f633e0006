package rest

import (
	"encoding/json"
)

// model is what one of pyaleph's content models dumps: per field, the
// value dumped when the field is absent (nil: a required field, left as
// is) and, for a nested model, how to normalise the value present.
// GET /api/v0/messages/{hash} re-validates a processed message through
// those models and dumps every field (§9.3), where the lists serve the
// raw stored content.
type model map[string]field

// field is a field of a model.
type field struct {
	// def is the JSON dumped when the field is absent; nil: left absent.
	def json.RawMessage
	// sub normalises a present value (a nested model or a list of them);
	// nil: the value is dumped as is.
	sub func(json.RawMessage) json.RawMessage
}

var (
	null      = json.RawMessage("null")
	jsonFalse = json.RawMessage("false")
	jsonTrue  = json.RawMessage("true")
)

// opt is an optional field dumped as null when absent.
func opt() field { return field{def: null} }

// optModel is an optional nested model, null when absent.
func optModel(m model) field { return field{def: null, sub: m.object} }

// req is a required nested model.
func req(m model) field { return field{sub: m.object} }

// optList is an optional list of models, null when absent.
func optList(m model) field {
	return field{def: null, sub: listOf(func(json.RawMessage) model { return m })}
}

// listOf normalises each object of a list with the model pick chooses
// for it.
func listOf(pick func(json.RawMessage) model) func(json.RawMessage) json.RawMessage {
	return func(raw json.RawMessage) json.RawMessage {
		var items []json.RawMessage
		if json.Unmarshal(raw, &items) != nil || items == nil {
			return raw
		}
		for i, it := range items {
			if m := pick(it); m != nil {
				items[i] = m.object(it)
			}
		}
		b, err := json.Marshal(items)
		if err != nil {
			return raw
		}
		return b
	}
}

// object dumps raw, a JSON object, with every field of m present (the
// defaults of the absent ones) and its nested models normalised; other
// values are returned unchanged.
func (m model) object(raw json.RawMessage) json.RawMessage {
	var fields map[string]json.RawMessage
	if json.Unmarshal(raw, &fields) != nil || fields == nil {
		return raw
	}
	for k, f := range m {
		v, ok := fields[k]
		switch {
		case !ok && f.def != nil:
			fields[k] = f.def
		case ok && f.sub != nil && string(v) != "null":
			fields[k] = f.sub(v)
		}
	}
	b, err := json.Marshal(fields)
	if err != nil {
		return raw
	}
	return b
}

// The execution models (aleph-message, §1.4): PROGRAM and INSTANCE share
// the executable fields.
var (
	parentVolume = model{"ref": {}, "use_latest": {def: jsonTrue}}
	payment      = model{"chain": opt(), "receiver": opt(), "type": {}}
	resources    = model{"vcpus": {def: json.RawMessage("1")}, "memory": {def: json.RawMessage("128")},
		"seconds": {def: json.RawMessage("1")}, "published_ports": optList(model{"protocol": {def: json.RawMessage(`"tcp"`)}, "port": {}})}
	requirements = model{
		"cpu":  optModel(model{"architecture": opt(), "vendor": opt(), "features": opt()}),
		"node": optModel(model{"owner": opt(), "address_regex": opt(), "node_hash": opt(), "terms_and_conditions": opt()}),
		"gpu":  opt(),
	}
	immutableVolume  = model{"comment": opt(), "mount": opt(), "ref": {}, "use_latest": {def: jsonTrue}}
	ephemeralVolume  = model{"comment": opt(), "mount": opt(), "ephemeral": {def: jsonTrue}, "size_mib": {}}
	persistentVolume = model{"comment": opt(), "mount": opt(), "parent": optModel(parentVolume), "persistence": opt(),
		"name": opt(), "size_mib": {}}
	// volumes picks a volume's model as pydantic's union does: ephemeral
	// volumes say so, persistent ones have a size and no ref, the others
	// are immutable.
	volumes = listOf(func(raw json.RawMessage) model {
		var v map[string]json.RawMessage
		if json.Unmarshal(raw, &v) != nil || v == nil {
			return nil
		}
		if _, ok := v["ephemeral"]; ok {
			return ephemeralVolume
		}
		if _, ok := v["ref"]; ok {
			return immutableVolume
		}
		return persistentVolume
	})
)

// executable is the fields PROGRAM and INSTANCE content share, plus
// theirs.
func executable(own model) model {
	m := model{
		"allow_amend": {}, "metadata": opt(), "authorized_keys": opt(), "variables": opt(),
		"resources": req(resources), "payment": optModel(payment), "requirements": optModel(requirements),
		"volumes": {def: json.RawMessage("[]"), sub: volumes}, "replaces": opt(),
	}
	for k, f := range own {
		m[k] = f
	}
	return m
}

// verifiedVolume is a V-PROGRAM's verity-bound volume (aleph-message's
// VerifiedVolume; the workload is the same without a comment).
var verifiedVolume = model{"ref": {}, "hash_tree": {}, "roothash": {}, "comment": {def: json.RawMessage(`""`)}}

// defaultSNPPolicy is TeeVerification.policy's default (0x30000: bit 17,
// reserved and set, and bit 16, SMT allowed).
const defaultSNPPolicy = "196608"

// contentModels are the content models of the message types whose
// content GET /api/v0/messages/{hash} normalises; AGGREGATE content has
// no optional field. V-PROGRAM is aleph-message's
// VerifiableProgramContent (§1.4): the executable fields, with its own
// environment, runtime (no use_latest), workload, verification and
// verified volumes; its measurements are a union of register models,
// dumped as sent.
var contentModels = map[string]model{
	"POST": {"content": opt(), "ref": opt()},
	"STORE": {"size": opt(), "content_type": opt(), "ref": opt(), "metadata": opt(), "payment": optModel(payment),
		"tags": opt()},
	"FORGET": {"aggregates": {def: json.RawMessage("[]")}, "reason": opt()},
	"PROGRAM": executable(model{
		"payment": opt(), // ProgramContent declares a plain dict
		"code": req(model{"encoding": {}, "entrypoint": {}, "ref": {}, "interface": opt(), "args": opt(),
			"use_latest": {def: jsonFalse}}),
		"runtime": req(model{"ref": {}, "use_latest": {def: jsonTrue}, "comment": {}}),
		"data":    optModel(model{"encoding": {}, "mount": {}, "ref": opt(), "use_latest": {def: jsonFalse}}),
		"export":  optModel(model{"encoding": {}, "mount": {}}),
		"on":      req(model{"http": {}, "message": opt(), "persistent": opt()}),
		"environment": req(model{"reproducible": {def: jsonFalse}, "internet": {def: jsonFalse},
			"aleph_api": {def: jsonFalse}, "shared_cache": {def: jsonFalse}}),
	}),
	"INSTANCE": executable(model{
		"environment": req(model{"internet": {def: jsonFalse}, "aleph_api": {def: jsonFalse}, "hypervisor": opt(),
			"trusted_execution": optModel(model{"firmware": opt(), "policy": {def: json.RawMessage("1")}}),
			"reproducible":      {def: jsonFalse}, "shared_cache": {def: jsonFalse}}),
		"rootfs": req(model{"parent": req(parentVolume), "persistence": {}, "size_mib": {}}),
	}),
	"V-PROGRAM": executable(model{
		"payment":      req(payment), // mandatory (credit only)
		"environment":  req(model{"internet": {def: jsonFalse}}),
		"runtime":      req(model{"ref": {}, "comment": {def: json.RawMessage(`""`)}}),
		"workload":     req(model{"ref": {}, "hash_tree": {}, "roothash": {}}),
		"verification": req(model{"backend": {}, "policy": {def: json.RawMessage(defaultSNPPolicy)}, "measurements": {}}),
		"volumes":      {def: json.RawMessage("[]"), sub: listOf(func(json.RawMessage) model { return verifiedVolume })},
	}),
}

// normalizedContent returns a processed message's content as pyaleph's
// model of its type dumps it: every optional field present (null or its
// default), at every level of PROGRAM, INSTANCE and V-PROGRAM content. Content that
// is not a JSON object, or of a type without a model, is returned
// unchanged.
func normalizedContent(msgType string, content json.RawMessage) json.RawMessage {
	m := contentModels[msgType]
	if m == nil || len(content) == 0 {
		return content
	}
	return m.object(content)
}
