package demo

import (
	"fmt"
)

// VMEpoch is the time of the sample's PROGRAM and INSTANCE messages and of
// the STOREs of their volumes (epoch seconds, plus the message's index):
// 2025-03-01, before two payment cut-offs of the network (spec 5.4), so
// that no balance or credit is needed, as on the network itself:
//
//   - a non-persistent PROGRAM (and a STORE) sent before 2025-04-04
//     (pyaleph are_store_and_program_free) skips the balance check;
//   - an INSTANCE paid by a stream (payment type "superfluid") sent before
//     the hold-and-stream cut-off of 2026-03-11 is accepted without any
//     check: streams are never checked at processing.
//
// These VMs therefore sit at the start of the sample's timeline, a year
// or more before its other messages.
const VMEpoch = 1740787200.0

// vmFiles are the STORE messages (item hashes) the sample VMs mount.
type vmFiles struct {
	code, runtime, rootfs string
}

// vm returns the next VM: a PROGRAM and an INSTANCE in turn. The first
// call returns the STORE of the code file and queues the STOREs of the
// runtime and of the rootfs, then the VM itself.
func (d *Dataset) vm(a *Account, ch string) ([]byte, string, error) {
	t := VMEpoch + float64(d.n)
	if d.vmFiles == nil {
		owner := a0(d)
		var stores [3]signed
		for i, name := range []string{"code", "runtime", "rootfs"} {
			data := fmt.Appendf(nil, "alephql demo %s volume by %s\n", name, owner.Address())
			h, err := d.Files(data)
			if err != nil {
				return nil, "", fmt.Errorf("demo: store %s: %w", name, err)
			}
			raw, hash, err := owner.Sign(Msg{Type: "STORE", Channel: "demo", Time: t + float64(i), Content: map[string]any{
				"item_type": "storage", "item_hash": h, "size": len(data), "mime_type": "application/octet-stream",
			}})
			if err != nil {
				return nil, "", err
			}
			stores[i] = signed{raw, hash}
		}
		d.vmFiles = &vmFiles{code: stores[0].hash, runtime: stores[1].hash, rootfs: stores[2].hash}
		raw, hash, err := d.nextVM(a, ch, t+3)
		if err != nil {
			return nil, "", err
		}
		d.queue = append(d.queue, stores[1], stores[2], signed{raw, hash})
		return stores[0].raw, stores[0].hash, nil
	}
	return d.nextVM(a, ch, t)
}

// nextVM signs a PROGRAM (non-persistent: free before the cut-off) or an
// INSTANCE (paid by a stream), with every kind of volume the type has.
func (d *Dataset) nextVM(a *Account, ch string, t float64) ([]byte, string, error) {
	f := d.vmFiles
	d.vms++
	volumes := []any{
		map[string]any{"ref": f.code, "use_latest": false, "mount": "/opt/lib", "comment": "immutable"},
		map[string]any{"ephemeral": true, "size_mib": 64, "mount": "/tmp"},
		map[string]any{"persistence": "host", "name": "state", "size_mib": 512, "mount": "/var/lib/state"},
	}
	env := map[string]any{"internet": d.vms%3 == 0}
	if d.vms%2 == 1 {
		return a.Sign(Msg{Type: "PROGRAM", Channel: ch, Time: t, Content: map[string]any{
			"type": "vm-function", "allow_amend": false,
			"code":        map[string]any{"encoding": "plain", "entrypoint": "main:app", "ref": f.code, "use_latest": false},
			"runtime":     map[string]any{"ref": f.runtime, "use_latest": true, "comment": "demo runtime"},
			"data":        map[string]any{"encoding": "plain", "mount": "/data", "ref": f.code, "use_latest": false},
			"on":          map[string]any{"http": true},
			"environment": env,
			"resources":   map[string]any{"vcpus": 1, "memory": 128, "seconds": 30},
			"metadata":    map[string]any{"name": fmt.Sprintf("demo program %d", d.vms)},
			"volumes":     volumes,
		}})
	}
	return a.Sign(Msg{Type: "INSTANCE", Channel: ch, Time: t, Content: map[string]any{
		"allow_amend": false,
		"rootfs":      map[string]any{"parent": map[string]any{"ref": f.rootfs, "use_latest": false}, "persistence": "host", "size_mib": 20480},
		"environment": env,
		"resources":   map[string]any{"vcpus": 1, "memory": 2048, "seconds": 30},
		"payment":     map[string]any{"type": "superfluid", "chain": "AVAX", "receiver": a0(d).Address()},
		"metadata":    map[string]any{"name": fmt.Sprintf("demo instance %d", d.vms)},
		"volumes":     volumes,
	}})
}
