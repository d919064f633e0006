package rest

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestNormalizedContent(t *testing.T) {
	tests := []struct {
		name, typ, in, want string
	}{
		{"post without ref or content", "POST", `{"address":"0xa","time":1,"type":"note"}`,
			`{"address":"0xa","time":1,"type":"note","content":null,"ref":null}`},
		{"post with both kept", "POST", `{"address":"0xa","time":1,"type":"amend","content":{"x":1},"ref":"h"}`,
			`{"address":"0xa","time":1,"type":"amend","content":{"x":1},"ref":"h"}`},
		{"store", "STORE", `{"address":"0xa","time":1,"item_type":"ipfs","item_hash":"Qm","size":5}`,
			`{"address":"0xa","time":1,"item_type":"ipfs","item_hash":"Qm","size":5,"content_type":null,"ref":null,"metadata":null,"payment":null,"tags":null}`},
		{"forget", "FORGET", `{"address":"0xa","time":1,"hashes":["h"]}`,
			`{"address":"0xa","time":1,"hashes":["h"],"aggregates":[],"reason":null}`},
		{"aggregate unchanged", "AGGREGATE", `{"address":"0xa","time":1,"key":"k","content":{}}`,
			`{"address":"0xa","time":1,"key":"k","content":{}}`},
		{"not an object", "POST", `[1]`, `[1]`},
		{"store payment", "STORE", `{"address":"0xa","time":1,"item_type":"ipfs","item_hash":"Qm","payment":{"type":"credit"}}`,
			`{"address":"0xa","time":1,"item_type":"ipfs","item_hash":"Qm","size":null,"content_type":null,"ref":null,"metadata":null,"payment":{"type":"credit","chain":null,"receiver":null},"tags":null}`},
		{"program, minimal", "PROGRAM", `{"address":"0xa","time":1,"allow_amend":false,"type":"vm-function",
			"code":{"encoding":"zip","entrypoint":"main:app","ref":"c"},"runtime":{"ref":"r","comment":"py"},
			"on":{"http":true},"environment":{},"resources":{}}`,
			`{"address":"0xa","time":1,"allow_amend":false,"type":"vm-function",
			"code":{"encoding":"zip","entrypoint":"main:app","ref":"c","interface":null,"args":null,"use_latest":false},
			"runtime":{"ref":"r","use_latest":true,"comment":"py"},"data":null,"export":null,
			"on":{"http":true,"message":null,"persistent":null},
			"environment":{"reproducible":false,"internet":false,"aleph_api":false,"shared_cache":false},
			"resources":{"vcpus":1,"memory":128,"seconds":1,"published_ports":null},
			"metadata":null,"authorized_keys":null,"variables":null,"payment":null,"requirements":null,"volumes":[],"replaces":null}`},
		{"program, nested models and every volume kind", "PROGRAM", `{"address":"0xa","time":1,"allow_amend":true,"type":"vm-function",
			"code":{"encoding":"plain","entrypoint":"run","ref":"c","use_latest":true,"interface":"binary"},
			"runtime":{"ref":"r","use_latest":false,"comment":"py"},"data":{"encoding":"zip","mount":"/data"},
			"export":{"encoding":"zip","mount":"/out"},"on":{"http":false,"message":[{"sender":"0xb","anything":1}]},
			"environment":{"internet":true},"resources":{"vcpus":2,"published_ports":[{"port":80}]},
			"payment":{"type":"hold"},"requirements":{"node":{"node_hash":"n"}},
			"volumes":[{"ref":"v","mount":"/v"},{"ephemeral":true,"size_mib":5},{"persistence":"host","name":"p","size_mib":10,"parent":{"ref":"q"}}],
			"variables":{"A":"1"},"replaces":"old"}`,
			`{"address":"0xa","time":1,"allow_amend":true,"type":"vm-function",
			"code":{"encoding":"plain","entrypoint":"run","ref":"c","interface":"binary","args":null,"use_latest":true},
			"runtime":{"ref":"r","use_latest":false,"comment":"py"},
			"data":{"encoding":"zip","mount":"/data","ref":null,"use_latest":false},"export":{"encoding":"zip","mount":"/out"},
			"on":{"http":false,"message":[{"sender":"0xb","anything":1}],"persistent":null},
			"environment":{"reproducible":false,"internet":true,"aleph_api":false,"shared_cache":false},
			"resources":{"vcpus":2,"memory":128,"seconds":1,"published_ports":[{"protocol":"tcp","port":80}]},
			"payment":{"type":"hold"},
			"requirements":{"cpu":null,"gpu":null,"node":{"owner":null,"address_regex":null,"node_hash":"n","terms_and_conditions":null}},
			"volumes":[{"comment":null,"mount":"/v","ref":"v","use_latest":true},{"comment":null,"mount":null,"ephemeral":true,"size_mib":5},
				{"comment":null,"mount":null,"persistence":"host","name":"p","size_mib":10,"parent":{"ref":"q","use_latest":true}}],
			"metadata":null,"authorized_keys":null,"variables":{"A":"1"},"replaces":"old"}`},
		{"instance", "INSTANCE", `{"address":"0xa","time":1,"allow_amend":false,
			"rootfs":{"parent":{"ref":"p"},"persistence":"host","size_mib":20480},
			"environment":{"hypervisor":"qemu","trusted_execution":{"firmware":"f"}},"resources":{"vcpus":2,"memory":4096},
			"payment":{"type":"credit","chain":"ETH"},"authorized_keys":["ssh-ed25519 K"]}`,
			`{"address":"0xa","time":1,"allow_amend":false,
			"rootfs":{"parent":{"ref":"p","use_latest":true},"persistence":"host","size_mib":20480},
			"environment":{"internet":false,"aleph_api":false,"hypervisor":"qemu","trusted_execution":{"firmware":"f","policy":1},
				"reproducible":false,"shared_cache":false},
			"resources":{"vcpus":2,"memory":4096,"seconds":1,"published_ports":null},
			"payment":{"type":"credit","chain":"ETH","receiver":null},"authorized_keys":["ssh-ed25519 K"],
			"metadata":null,"variables":null,"requirements":null,"volumes":[],"replaces":null}`},
		{"instance, nulls kept", "INSTANCE", `{"address":"0xa","time":1,"allow_amend":false,"rootfs":null,"environment":{"trusted_execution":null},"resources":{},"payment":null}`,
			`{"address":"0xa","time":1,"allow_amend":false,"rootfs":null,
			"environment":{"internet":false,"aleph_api":false,"hypervisor":null,"trusted_execution":null,"reproducible":false,"shared_cache":false},
			"resources":{"vcpus":1,"memory":128,"seconds":1,"published_ports":null},"payment":null,
			"metadata":null,"authorized_keys":null,"variables":null,"requirements":null,"volumes":[],"replaces":null}`},
		{"v-program, minimal", "V-PROGRAM", `{"address":"0xa","time":1,"allow_amend":false,
			"payment":{"type":"credit"},"environment":{},"resources":{},"runtime":{"ref":"r"},
			"workload":{"ref":"w","hash_tree":"t","roothash":"aa"},
			"verification":{"backend":"sev_snp","measurements":[{"platform":"sev_snp","digest":"d"}]}}`,
			`{"address":"0xa","time":1,"allow_amend":false,
			"payment":{"type":"credit","chain":null,"receiver":null},"environment":{"internet":false},
			"resources":{"vcpus":1,"memory":128,"seconds":1,"published_ports":null},
			"runtime":{"ref":"r","comment":""},"workload":{"ref":"w","hash_tree":"t","roothash":"aa"},
			"verification":{"backend":"sev_snp","policy":196608,"measurements":[{"platform":"sev_snp","digest":"d"}]},
			"metadata":null,"authorized_keys":null,"variables":null,"requirements":null,"volumes":[],"replaces":null}`},
		{"v-program, verified volumes and values kept", "V-PROGRAM", `{"address":"0xa","time":1,"allow_amend":false,
			"payment":{"type":"credit","chain":"ETH","receiver":"0xr"},"environment":{"internet":true},"resources":{"vcpus":4},
			"runtime":{"ref":"r","comment":"manifest"},"workload":{"ref":"w","hash_tree":"t","roothash":"aa"},
			"verification":{"backend":"sev_snp","policy":458752,"measurements":[]},
			"volumes":[{"ref":"v1","hash_tree":"t1","roothash":"bb"},{"ref":"v2","hash_tree":"t2","roothash":"cc","comment":"weights"}],
			"requirements":{"node":{"node_hash":"n"}},"metadata":{"name":"x"}}`,
			`{"address":"0xa","time":1,"allow_amend":false,
			"payment":{"type":"credit","chain":"ETH","receiver":"0xr"},"environment":{"internet":true},
			"resources":{"vcpus":4,"memory":128,"seconds":1,"published_ports":null},
			"runtime":{"ref":"r","comment":"manifest"},"workload":{"ref":"w","hash_tree":"t","roothash":"aa"},
			"verification":{"backend":"sev_snp","policy":458752,"measurements":[]},
			"volumes":[{"ref":"v1","hash_tree":"t1","roothash":"bb","comment":""},{"ref":"v2","hash_tree":"t2","roothash":"cc","comment":"weights"}],
			"requirements":{"cpu":null,"gpu":null,"node":{"owner":null,"address_regex":null,"node_hash":"n","terms_and_conditions":null}},
			"metadata":{"name":"x"},"authorized_keys":null,"variables":null,"replaces":null}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := normalizedContent(tt.typ, json.RawMessage(tt.in))
			require.JSONEq(t, tt.want, string(got))
		})
	}
	require.Nil(t, normalizedContent("POST", nil))
}
