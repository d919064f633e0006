package message

// InstanceContent is the content of an INSTANCE message: a long-running VM.
type InstanceContent struct {
	ExecutableContent
	// Environment is the execution environment.
	Environment InstanceEnvironment
	// Rootfs is the root filesystem.
	Rootfs Rootfs
}

// MessageType returns TypeInstance.
func (*InstanceContent) MessageType() Type { return TypeInstance }

// InstanceEnvironment is an instance's environment.
type InstanceEnvironment struct {
	Internet     bool
	AlephAPI     bool
	Hypervisor   string // "qemu", "firecracker", or "" when not given
	Trusted      *TrustedExecution
	Reproducible bool
	SharedCache  bool
}

// TrustedExecution asks for a confidential VM (AMD SEV).
type TrustedExecution struct {
	Firmware string // item hash of the firmware, "" when not given
	Policy   int64
}

// Rootfs is an instance's root filesystem, copied from a parent image.
type Rootfs struct {
	Parent      ParentVolume
	Persistence string // host or store
	SizeMiB     int64
}

func parseInstance(o *value, p *path, base BaseContent) (*InstanceContent, error) {
	if err := forbidExtra(o, p, "address", "time", "allow_amend", "metadata", "authorized_keys", "variables",
		"environment", "resources", "payment", "requirements", "volumes", "replaces", "rootfs"); err != nil {
		return nil, err
	}
	ex, err := parseExecutable(o, p, base, true)
	if err != nil {
		return nil, err
	}
	c := &InstanceContent{ExecutableContent: ex}
	if c.Environment, err = parseInstanceEnvironment(o, p); err != nil {
		return nil, err
	}
	if c.Volumes, err = parseVolumes(o, p); err != nil {
		return nil, err
	}
	if c.Rootfs, err = parseRootfs(o, p); err != nil {
		return nil, err
	}
	if err := c.checkRequirements(p); err != nil {
		return nil, err
	}
	return c, nil
}

func parseInstanceEnvironment(o *value, p *path) (InstanceEnvironment, error) {
	var e InstanceEnvironment
	v, fp, err := requiredObject(o, p, "environment")
	if err != nil {
		return e, err
	}
	if e.Internet, err = getBool(v, &fp, "internet", false); err != nil {
		return e, err
	}
	if e.AlephAPI, err = getBool(v, &fp, "aleph_api", false); err != nil {
		return e, err
	}
	if h, ok := v.getSet("hypervisor"); ok {
		hp := fp.field("hypervisor")
		if e.Hypervisor, err = asEnum(h, &hp, "qemu", "firecracker"); err != nil {
			return e, err
		}
	}
	if t, ok := v.get("trusted_execution"); ok {
		tp := fp.field("trusted_execution")
		// The check runs on the raw value, before validation: any truthy
		// value needs qemu.
		if t.truthy() && e.Hypervisor != "qemu" {
			return e, errContent(&tp, "trusted execution environment is only supported for qemu")
		}
		if t.kind != kindNull {
			if err := asObject(t, &tp); err != nil {
				return e, err
			}
			if err := forbidExtra(t, &tp, "firmware", "policy"); err != nil {
				return e, err
			}
			te := &TrustedExecution{Policy: 1}
			if te.Firmware, err = getOptItemHash(t, &tp, "firmware"); err != nil {
				return e, err
			}
			if pv, ok := t.get("policy"); ok {
				pp := tp.field("policy")
				if te.Policy, err = asInt(pv, &pp, false); err != nil {
					return e, err
				}
			}
			e.Trusted = te
		}
	}
	if e.Reproducible, err = getBool(v, &fp, "reproducible", false); err != nil {
		return e, err
	}
	e.SharedCache, err = getBool(v, &fp, "shared_cache", false)
	return e, err
}

func parseRootfs(o *value, p *path) (Rootfs, error) {
	var r Rootfs
	v, fp, err := requiredObject(o, p, "rootfs")
	if err != nil {
		return r, err
	}
	pp := fp.field("parent")
	pv, ok := v.get("parent")
	if !ok {
		return r, missing(&pp)
	}
	parent, err := parseParentVolume(pv, &pp)
	if err != nil {
		return r, err
	}
	r.Parent = *parent
	if r.Persistence, err = requiredEnum(v, &fp, "persistence", "host", "store"); err != nil {
		return r, err
	}
	if r.SizeMiB, err = requiredInt(v, &fp, "size_mib", 1, maxPersistentSizeMiB, true); err != nil {
		return r, err
	}
	if _, err := getStrList(v, &fp, "forgotten_by", -1, 0, 0); err != nil {
		return r, err
	}
	return r, nil
}

// checkRequirements is aleph-message's InstanceContent model validator; it
// applies only when requirements are given.
func (c *InstanceContent) checkRequirements(p *path) error {
	req := c.Requirements
	if req == nil {
		return nil
	}
	hasNodeHash := req.Node != nil && req.Node.NodeHash != ""
	streamOrCredit := c.Payment != nil && (c.Payment.Type == PaymentSuperfluid || c.Payment.Type == PaymentCredit)
	if streamOrCredit && !hasNodeHash {
		return errContent(p, "node hash assignment is needed for PAYG or credit payments")
	}
	if len(req.GPU) > 0 {
		if !hasNodeHash {
			return errContent(p, "node hash assignment is needed for GPU support")
		}
		if c.Environment.Hypervisor != "qemu" {
			return errContent(p, "GPU option is only supported for qemu hypervisor")
		}
	}
	if req.Node != nil && req.Node.TermsAndConditions != "" {
		if !hasNodeHash {
			return errContent(p, "terms_and_conditions needs a requirements.node.node_hash value")
		}
		if !streamOrCredit && c.Environment.Trusted == nil {
			return errContent(p, "only PAYG, confidential or credit instances can have terms_and_conditions")
		}
	}
	return nil
}
