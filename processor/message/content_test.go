package message

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/processor/errcode"
)

// testWire is the message the content tests parse content for.
func testWire(typ Type) *Wire {
	return &Wire{Chain: "ETH", Sender: "0xSENDER", Type: typ, ItemType: ItemStorage, Time: 1619017773.8950577}
}

// merge returns base with the keys of over set (nil deletes).
func merge(base, over map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range base {
		out[k] = v
	}
	for k, v := range over {
		if v == nil {
			delete(out, k)
		} else {
			out[k] = v
		}
	}
	return out
}

// null is a JSON null inside merge's overrides.
var null = json.RawMessage("null")

func instanceBase() map[string]any {
	return map[string]any{
		"address":     "0xA",
		"time":        1.5,
		"allow_amend": false,
		"environment": map[string]any{"internet": true, "hypervisor": "qemu"},
		"resources":   map[string]any{"vcpus": 1, "memory": 2048, "seconds": 30},
		"rootfs": map[string]any{
			"parent":      map[string]any{"ref": sha256H, "use_latest": true},
			"persistence": "host",
			"size_mib":    20480,
		},
	}
}

func programBase() map[string]any {
	return map[string]any{
		"type":        "vm-function",
		"address":     "0xA",
		"time":        1.5,
		"allow_amend": false,
		"code":        map[string]any{"encoding": "zip", "entrypoint": "main:app", "ref": sha256H},
		"runtime":     map[string]any{"ref": sha256H, "comment": "rt"},
		"on":          map[string]any{"http": true},
		"environment": map[string]any{"internet": false},
		"resources":   map[string]any{"vcpus": 1, "memory": 128, "seconds": 30},
	}
}

func vprogramBase() map[string]any {
	return map[string]any{
		"address":     "0xA",
		"time":        1719502000.0,
		"allow_amend": false,
		"payment":     map[string]any{"type": "credit"},
		"environment": map[string]any{"internet": true},
		"resources":   map[string]any{"vcpus": 2, "memory": 2048, "seconds": 30},
		"runtime":     map[string]any{"ref": sha256H, "comment": "bundle"},
		"workload":    map[string]any{"ref": sha256H, "hash_tree": sha256H, "roothash": sha256H},
		"verification": map[string]any{"backend": "sev_snp", "policy": 196608,
			"measurements": []any{map[string]any{"platform": "sev_snp", "digest": strings.Repeat("ab", 48)}}},
		"volumes": []any{map[string]any{"ref": sha256H, "hash_tree": sha256H, "roothash": sha256H, "comment": "w"}},
	}
}

func TestParseContent(t *testing.T) {
	t.Parallel()
	vol := func(v map[string]any) map[string]any {
		return merge(instanceBase(), map[string]any{"volumes": []any{v}})
	}
	tests := []struct {
		name    string
		typ     Type
		content any // map, or a raw JSON string
		field   string
		ok      bool
		check   func(t *testing.T, c Content)
	}{
		// Generic rules.
		{name: "u0000 text", typ: TypePost, content: `{"type":"x","content":"\\u0000"}`, field: "content"},
		{name: "escaped backslash u0000 false positive", typ: TypePost, content: `{"type":"x","content":"\\\\u0000"}`, field: "content"},
		{name: "not an object", typ: TypePost, content: `[1]`, field: "content"},
		{name: "invalid JSON", typ: TypePost, content: `{"type":}`, field: "content"},
		{name: "NaN", typ: TypePost, content: `{"type":"x","content":NaN}`, field: "content"},
		{name: "defaults", typ: TypePost, content: map[string]any{"type": "x"}, ok: true, check: func(t *testing.T, c Content) {
			b := c.Base()
			require.Equal(t, "0xSENDER", b.Address)
			require.InDelta(t, 1619017773.895058, b.Time, 0)
			require.JSONEq(t, `{"type":"x","address":"0xSENDER","time":1619017773.895058}`, string(b.JSON()))
		}},
		{name: "null defaults replaced in place", typ: TypePost, content: `{"address":null,"type":"x","time":null}`, ok: true, check: func(t *testing.T, c Content) {
			require.Equal(t, `{"address":"0xSENDER","type":"x","time":1619017773.895058}`, string(c.Base().JSON()))
		}},
		{name: "address not a string", typ: TypePost, content: map[string]any{"type": "x", "address": 1}, field: "content.address"},
		{name: "negative time", typ: TypePost, content: map[string]any{"type": "x", "time": -1}, field: "content.time"},
		{name: "time above 2262", typ: TypePost, content: map[string]any{"type": "x", "time": 9223372037}, field: "content.time"},
		{name: "time string", typ: TypePost, content: map[string]any{"type": "x", "time": "1"}, field: "content.time"},

		// POST.
		{name: "post extra key", typ: TypePost, content: map[string]any{"type": "x", "foo": 1}, field: "content.foo"},
		{name: "post missing type", typ: TypePost, content: map[string]any{"content": 1}, field: "content.type"},
		{name: "amend without ref", typ: TypePost, content: map[string]any{"type": "amend"}, field: "content.type"},
		{name: "amend with empty ref", typ: TypePost, content: map[string]any{"type": "amend", "ref": ""}, field: "content.type"},
		{name: "amend", typ: TypePost, content: map[string]any{"type": "amend", "ref": sha256H, "content": map[string]any{"tags": []any{"a"}}}, ok: true, check: func(t *testing.T, c Content) {
			p := c.(*PostContent)
			require.Equal(t, sha256H, p.Ref)
			require.Equal(t, []string{"a"}, p.Tags())
			require.JSONEq(t, `{"tags":["a"]}`, string(p.Content))
		}},
		{name: "chain ref", typ: TypePost, content: map[string]any{"type": "amend", "ref": map[string]any{
			"chain": "ETH", "item_content": "{}", "item_hash": sha256H, "item_type": "inline", "sender": "s", "signature": "x", "time": 1, "extra": true}}, ok: true,
			check: func(t *testing.T, c Content) { require.Equal(t, sha256H, c.(*PostContent).Ref) }},
		{name: "chain ref bad hash", typ: TypePost, content: map[string]any{"type": "x", "ref": map[string]any{
			"chain": "ETH", "item_content": "{}", "item_hash": "nope", "item_type": "inline", "sender": "s", "signature": "x", "time": 1}}, field: "content.ref.item_hash"},
		{name: "ref number", typ: TypePost, content: map[string]any{"type": "x", "ref": 1}, field: "content.ref"},
		{name: "17 tags", typ: TypePost, content: map[string]any{"type": "x", "content": map[string]any{"tags": make([]string, 17)}}, field: "content.content.tags"},
		{name: "empty tag", typ: TypePost, content: map[string]any{"type": "x", "content": map[string]any{"tags": []any{""}}}, field: "content.content.tags[0]"},
		{name: "257-char tag", typ: TypePost, content: map[string]any{"type": "x", "content": map[string]any{"tags": []any{strings.Repeat("é", 257)}}}, field: "content.content.tags[0]"},
		{name: "null tags", typ: TypePost, content: map[string]any{"type": "x", "content": map[string]any{"tags": null}}, ok: true},

		// AGGREGATE.
		{name: "aggregate", typ: TypeAggregate, content: map[string]any{"key": "k", "content": map[string]any{"a": 1}}, ok: true, check: func(t *testing.T, c Content) {
			require.Equal(t, "k", c.(*AggregateContent).Key)
		}},
		{name: "aggregate key object", typ: TypeAggregate, content: map[string]any{"key": map[string]any{"name": "k"}, "content": map[string]any{}}, ok: true, check: func(t *testing.T, c Content) {
			require.True(t, c.(*AggregateContent).KeyIsObject)
		}},
		{name: "aggregate key object extra", typ: TypeAggregate, content: map[string]any{"key": map[string]any{"name": "k", "x": 1}, "content": map[string]any{}}, field: "content.key.x"},
		{name: "aggregate content list", typ: TypeAggregate, content: map[string]any{"key": "k", "content": []any{}}, field: "content.content"},
		{name: "aggregate extra", typ: TypeAggregate, content: map[string]any{"key": "k", "content": map[string]any{}, "z": 1}, field: "content.z"},

		// STORE.
		{name: "store extra kept", typ: TypeStore, content: map[string]any{"item_type": "storage", "item_hash": sha256H, "foo": 1, "payment": map[string]any{"type": "credit"}}, ok: true, check: func(t *testing.T, c Content) {
			s := c.(*StoreContent)
			require.Contains(t, string(s.JSON()), `"foo":1`)
			require.Equal(t, PaymentCredit, s.Payment.Type)
		}},
		{name: "store inline passes schema", typ: TypeStore, content: map[string]any{"item_type": "inline", "item_hash": sha256H}, ok: true},
		{name: "store upper-case hash", typ: TypeStore, content: map[string]any{"item_type": "storage", "item_hash": strings.ToUpper(sha256H)}, field: "content.item_hash"},
		{name: "store superfluid", typ: TypeStore, content: map[string]any{"item_type": "storage", "item_hash": sha256H, "payment": map[string]any{"type": "superfluid"}}, field: "content.payment"},
		{name: "store bad item_type", typ: TypeStore, content: map[string]any{"item_type": "STORAGE", "item_hash": sha256H}, field: "content.item_type"},
		{name: "store tags", typ: TypeStore, content: map[string]any{"item_type": "ipfs", "item_hash": cidV0, "tags": []any{1}}, field: "content.tags[0]"},

		// FORGET.
		{name: "forget", typ: TypeForget, content: map[string]any{"hashes": []any{sha256H, cidV0}, "reason": "x"}, ok: true},
		{name: "forget no hashes", typ: TypeForget, content: map[string]any{"aggregates": []any{}}, field: "content.hashes"},
		{name: "forget 1001 hashes", typ: TypeForget, content: map[string]any{"hashes": repeat(sha256H, 1001)}, field: "content.hashes"},
		{name: "forget aggregate key not a hash", typ: TypeForget, content: map[string]any{"hashes": []any{}, "aggregates": []any{"profile"}}, field: "content.aggregates[0]"},
		{name: "forget reason 1001", typ: TypeForget, content: map[string]any{"hashes": []any{}, "reason": strings.Repeat("x", 1001)}, field: "content.reason"},
		{name: "forget extra", typ: TypeForget, content: map[string]any{"hashes": []any{}, "x": 1}, field: "content.x"},

		// INSTANCE.
		{name: "instance", typ: TypeInstance, content: instanceBase(), ok: true},
		{name: "instance missing allow_amend", typ: TypeInstance, content: merge(instanceBase(), map[string]any{"allow_amend": nil}), field: "content.allow_amend"},
		{name: "instance lax ints and bools", typ: TypeInstance, content: merge(instanceBase(), map[string]any{"allow_amend": "no", "resources": map[string]any{"vcpus": json.RawMessage("2.0"), "memory": "512", "seconds": true}}), ok: true, check: func(t *testing.T, c Content) {
			r := c.(*InstanceContent).Resources
			require.Equal(t, Resources{VCPUs: 2, MemoryMiB: 512, Seconds: 1}, r)
		}},
		{name: "instance 257 vcpus", typ: TypeInstance, content: merge(instanceBase(), map[string]any{"resources": map[string]any{"vcpus": 257}}), field: "content.resources.vcpus"},
		{name: "instance fractional memory", typ: TypeInstance, content: merge(instanceBase(), map[string]any{"resources": map[string]any{"memory": 1.5}}), field: "content.resources.memory"},
		{name: "instance extra", typ: TypeInstance, content: merge(instanceBase(), map[string]any{"code": 1}), field: "content.code"},
		{name: "instance rootfs size strict", typ: TypeInstance, content: merge(instanceBase(), map[string]any{"rootfs": map[string]any{"parent": map[string]any{"ref": sha256H}, "persistence": "host", "size_mib": json.RawMessage("10.0")}}), field: "content.rootfs.size_mib"},
		{name: "instance rootfs too big", typ: TypeInstance, content: merge(instanceBase(), map[string]any{"rootfs": map[string]any{"parent": map[string]any{"ref": sha256H}, "persistence": "host", "size_mib": 1953126}}), field: "content.rootfs.size_mib"},
		{name: "ephemeral volume", typ: TypeInstance, content: vol(map[string]any{"ephemeral": true, "size_mib": 1000, "mount": "/x"}), ok: true, check: func(t *testing.T, c Content) {
			require.Equal(t, VolumeEphemeral, c.(*InstanceContent).Volumes[0].Kind)
		}},
		{name: "ephemeral volume too big", typ: TypeInstance, content: vol(map[string]any{"ephemeral": true, "size_mib": 1001}), field: "content.volumes[0].size_mib"},
		{name: "persistent volume", typ: TypeInstance, content: vol(map[string]any{"name": "d", "persistence": "store", "size_mib": 1001}), ok: true, check: func(t *testing.T, c Content) {
			require.Equal(t, VolumePersistent, c.(*InstanceContent).Volumes[0].Kind)
		}},
		{name: "immutable volume", typ: TypeInstance, content: vol(map[string]any{"ref": sha256H, "use_latest": false}), ok: true, check: func(t *testing.T, c Content) {
			v := c.(*InstanceContent).Volumes[0]
			require.Equal(t, VolumeImmutable, v.Kind)
			require.False(t, v.UseLatest)
		}},
		{name: "immutable volume bad ref", typ: TypeInstance, content: vol(map[string]any{"ref": "x"}), field: "content.volumes[0].ref"},
		{name: "volume comment 257", typ: TypeInstance, content: vol(map[string]any{"ref": sha256H, "comment": strings.Repeat("c", 257)}), field: "content.volumes[0].comment"},
		{name: "volume unknown shape", typ: TypeInstance, content: vol(map[string]any{"size_mib": 5, "foo": 1}), field: "content.volumes[0].foo"},
		{name: "tee without qemu", typ: TypeInstance, content: merge(instanceBase(), map[string]any{"environment": map[string]any{"hypervisor": "firecracker", "trusted_execution": map[string]any{"policy": 1}}}), field: "content.environment.trusted_execution"},
		{name: "empty tee without qemu", typ: TypeInstance, content: merge(instanceBase(), map[string]any{"environment": map[string]any{"trusted_execution": map[string]any{}}}), ok: true},
		{name: "gpu needs node hash", typ: TypeInstance, content: merge(instanceBase(), map[string]any{"requirements": map[string]any{"gpu": []any{map[string]any{"vendor": "N", "device_name": "H100", "device_class": "0302", "device_id": "10de:2504"}}}}), field: "content"},
		{name: "gpu device class", typ: TypeInstance, content: merge(instanceBase(), map[string]any{"requirements": map[string]any{"gpu": []any{map[string]any{"vendor": "N", "device_name": "H100", "device_class": "0301", "device_id": "x"}}}}), field: "content.requirements.gpu[0].device_class"},
		{name: "payg needs node hash", typ: TypeInstance, content: merge(instanceBase(), map[string]any{"payment": map[string]any{"type": "superfluid"}, "requirements": map[string]any{"cpu": map[string]any{"architecture": "x86_64"}}}), field: "content"},
		{name: "terms need stream or tee", typ: TypeInstance, content: merge(instanceBase(), map[string]any{"requirements": map[string]any{"node": map[string]any{"node_hash": sha256H, "terms_and_conditions": sha256H}}}), field: "content"},
		{name: "address regex compiles", typ: TypeInstance, content: merge(instanceBase(), map[string]any{"requirements": map[string]any{"node": map[string]any{"address_regex": "^https://(?=x).*$"}}}), ok: true},
		{name: "address regex invalid", typ: TypeInstance, content: merge(instanceBase(), map[string]any{"requirements": map[string]any{"node": map[string]any{"address_regex": "(abc"}}}), field: "content.requirements.node.address_regex"},
		{name: "requirements extra", typ: TypeInstance, content: merge(instanceBase(), map[string]any{"requirements": map[string]any{"disk": 1}}), field: "content.requirements.disk"},
		{name: "metadata value too long", typ: TypeInstance, content: merge(instanceBase(), map[string]any{"metadata": map[string]any{"name": strings.Repeat("x", 513)}}), field: "content.metadata.name"},
		{name: "metadata nested value", typ: TypeInstance, content: merge(instanceBase(), map[string]any{"metadata": map[string]any{"name": map[string]any{}}}), field: "content.metadata.name"},
		{name: "metadata tags", typ: TypeInstance, content: merge(instanceBase(), map[string]any{"metadata": map[string]any{"tags": []any{"a", "b"}}}), ok: true, check: func(t *testing.T, c Content) {
			require.Equal(t, []string{"a", "b"}, c.Base().Tags())
		}},
		{name: "variable value too long", typ: TypeInstance, content: merge(instanceBase(), map[string]any{"variables": map[string]any{"A": strings.Repeat("x", 4097)}}), field: "content.variables.A"},
		{name: "replaces 129", typ: TypeInstance, content: merge(instanceBase(), map[string]any{"replaces": strings.Repeat("x", 129)}), field: "content.replaces"},

		// PROGRAM.
		{name: "program", typ: TypeProgram, content: programBase(), ok: true},
		{name: "program wrong type", typ: TypeProgram, content: merge(programBase(), map[string]any{"type": "vm-instance"}), field: "content.type"},
		{name: "program missing runtime comment", typ: TypeProgram, content: merge(programBase(), map[string]any{"runtime": map[string]any{"ref": sha256H}}), field: "content.runtime.comment"},
		{name: "program on extra", typ: TypeProgram, content: merge(programBase(), map[string]any{"on": map[string]any{"http": true, "cron": 1}}), field: "content.on.cron"},
		{name: "program subscription too big", typ: TypeProgram, content: merge(programBase(), map[string]any{"on": map[string]any{"http": true, "message": []any{manyKeys(33)}}}), field: "content.on.message[0]"},
		{name: "program code encoding", typ: TypeProgram, content: merge(programBase(), map[string]any{"code": map[string]any{"encoding": "tar", "entrypoint": "x", "ref": sha256H}}), field: "content.code.encoding"},

		// V-PROGRAM.
		{name: "vprogram", typ: TypeVProgram, content: vprogramBase(), ok: true, check: func(t *testing.T, c Content) {
			v := c.(*VProgramContent)
			require.Equal(t, uint64(196608), v.Verification.Policy)
			require.Len(t, v.VerifiedVolumes, 1)
		}},
		{name: "vprogram hold", typ: TypeVProgram, content: merge(vprogramBase(), map[string]any{"payment": map[string]any{"type": "hold"}}), field: "content.payment"},
		{name: "vprogram amend", typ: TypeVProgram, content: merge(vprogramBase(), map[string]any{"allow_amend": true}), field: "content.allow_amend"},
		{name: "vprogram replaces", typ: TypeVProgram, content: merge(vprogramBase(), map[string]any{"replaces": sha256H}), field: "content.replaces"},
		{name: "vprogram roothash", typ: TypeVProgram, content: merge(vprogramBase(), map[string]any{"workload": map[string]any{"ref": sha256H, "hash_tree": sha256H, "roothash": cidV0}}), field: "content.workload.roothash"},
		{name: "vprogram no measurements", typ: TypeVProgram, content: merge(vprogramBase(), map[string]any{"verification": map[string]any{"backend": "sev_snp", "policy": 1, "measurements": []any{}}}), field: "content.verification.measurements"},
		{name: "vprogram 9 volumes", typ: TypeVProgram, content: merge(vprogramBase(), map[string]any{"volumes": repeat(map[string]any{"ref": sha256H, "hash_tree": sha256H, "roothash": sha256H, "comment": "w"}, 9)}), field: "content.volumes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			raw, ok := tt.content.(string)
			if !ok {
				b, err := json.Marshal(tt.content)
				require.NoError(t, err)
				raw = string(b)
			}
			c, err := ParseContent(testWire(tt.typ), []byte(raw))
			if tt.ok {
				require.NoError(t, err)
				require.Equal(t, tt.typ, c.MessageType())
				require.Equal(t, len(raw), c.Base().Size)
				if tt.check != nil {
					tt.check(t, c)
				}
				return
			}
			requireCode(t, err, errcode.InvalidFormat)
			var e *errcode.Error
			require.ErrorAs(t, err, &e)
			require.Equal(t, tt.field, e.Field, "error: %v", err)
			if tt.field != "content" || e.Details != nil {
				issues, ok := e.Details.([]Issue)
				require.True(t, ok)
				require.Len(t, issues, 1)
			}
		})
	}
}

func repeat(v any, n int) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = v
	}
	return out
}

func manyKeys(n int) map[string]any {
	out := map[string]any{}
	for i := 0; i < n; i++ {
		out[strings.Repeat("k", i+1)] = i
	}
	return out
}

func TestDecodeHelpers(t *testing.T) {
	t.Parallel()
	raw := wireJSON(t, map[string]any{"type": "STORE", "content": map[string]any{
		"address": "0xOWNER", "time": 1.0, "item_type": "storage", "item_hash": sha256H, "ref": "r",
		"payment": map[string]any{"type": "hold"}, "tags": []any{"t"},
	}})
	m, err := Decode(raw)
	require.NoError(t, err)
	require.Equal(t, "0xOWNER", m.Owner())
	require.Equal(t, "r", m.ContentRef())
	require.Equal(t, sha256H, m.ContentItemHash())
	require.Equal(t, PaymentHold, m.PaymentType())
	require.Equal(t, []string{"t"}, m.Tags())
	require.Empty(t, m.ContentKey())
	require.Empty(t, m.ContentType())
	require.Equal(t, len([]rune(m.ItemContent)), m.Content.Base().Size)

	s := m.Signed()
	require.Equal(t, "STORE", s.Type)
	require.Equal(t, m.ItemHash, s.ItemHash)
}
