package handler

import (
	"context"
	"encoding/json"
	"slices"

	"github.com/alephql/alephql/ent"
	"github.com/alephql/alephql/ent/filepin"
	"github.com/alephql/alephql/ent/filetag"
	"github.com/alephql/alephql/ent/vm"
	"github.com/alephql/alephql/ent/vmversion"
	"github.com/alephql/alephql/ent/vmvolume"
	"github.com/alephql/alephql/processor/cost"
	"github.com/alephql/alephql/processor/errcode"
	"github.com/alephql/alephql/processor/message"
)

// VM handles PROGRAM, INSTANCE and V-PROGRAM messages (spec 4.5, 4.6):
// VMs with all their volumes, volume dependencies, replacements and
// version pointers.
//
// Improvement on the reference node: replaces is persisted in
// vms.replaces, and vm_versions is keyed by the first version's hash
// (vm_hash = replaces, or the item hash of an original) with
// current_version the newest replacement, so the version history is a
// chain of rows. Which messages are accepted is unchanged: like the
// reference node, only a PROGRAM can be replaced.
type VM struct {
	deps    Deps
	dialect string
}

// NewVM returns the handler of PROGRAM, INSTANCE and V-PROGRAM messages;
// register it for the three types. dialectName is the database's dialect
// (for locking).
func NewVM(deps Deps, dialectName string) *VM {
	return &VM{deps: deps.withDefaults(), dialect: dialectName}
}

// vmParts is the shape shared by the executable contents.
type vmParts struct {
	base     *message.ExecutableContent
	program  *message.ProgramContent
	instance *message.InstanceContent
	vprogram *message.VProgramContent
}

func vmContent(m *message.Message) (vmParts, error) {
	switch c := m.Content.(type) {
	case *message.ProgramContent:
		return vmParts{base: &c.ExecutableContent, program: c}, nil
	case *message.InstanceContent:
		return vmParts{base: &c.ExecutableContent, instance: c}, nil
	case *message.VProgramContent:
		return vmParts{base: &c.ExecutableContent, vprogram: c}, nil
	}
	return vmParts{}, errcode.Newf(errcode.InternalError, "VM handler got %T content", m.Content)
}

// FetchRelated implements Handler: volumes are checked as dependencies,
// nothing is fetched.
func (*VM) FetchRelated(context.Context, *message.Message) error { return nil }

// volRef is a file a VM needs.
type volRef struct {
	ref    string
	latest bool
}

// refs lists the files a VM needs: program code, runtime and data, the
// instance rootfs parent, immutable volumes and persistent volume parents.
func (p vmParts) refs() []volRef {
	var out []volRef
	switch {
	case p.program != nil:
		out = append(out, volRef{p.program.Code.Ref, p.program.Code.UseLatest}, volRef{p.program.Runtime.Ref, p.program.Runtime.UseLatest})
		if p.program.Data != nil {
			out = append(out, volRef{p.program.Data.Ref, p.program.Data.UseLatest})
		}
	case p.instance != nil:
		out = append(out, volRef{p.instance.Rootfs.Parent.Ref, p.instance.Rootfs.Parent.UseLatest})
	}
	for _, v := range p.base.Volumes {
		switch {
		case v.Kind == message.VolumeImmutable:
			out = append(out, volRef{v.Ref, v.UseLatest})
		case v.Kind == message.VolumePersistent && v.Parent != nil:
			out = append(out, volRef{v.Parent.Ref, v.Parent.UseLatest})
		}
	}
	return out
}

// CheckDependencies implements Handler. Every volume file must be known:
// use_latest refs as file tags, others as STORE messages (else
// VM_VOLUME_NOT_FOUND, retried, listing the missing refs); volumes copying
// a parent must be at least its size (VM_VOLUME_TOO_SMALL); a replaced VM
// must be a known PROGRAM (VM_REF_NOT_FOUND, retried) that replaces
// nothing (VM_UPDATE_UPDATE) and whose current version allows amends
// (VM_AMEND_NOT_ALLOWED). V-PROGRAM refs are not checked, as on the
// reference node.
func (h *VM) CheckDependencies(ctx context.Context, tx *ent.Tx, m *message.Message) error {
	p, err := vmContent(m)
	if err != nil || p.vprogram != nil {
		return err
	}
	var tags, pins []string
	for _, r := range p.refs() {
		if r.latest {
			tags = append(tags, r.ref)
		} else {
			pins = append(pins, r.ref)
		}
	}
	var missing []string
	if len(tags) > 0 {
		found, err := tx.FileTag.Query().Where(filetag.IDIn(tags...)).IDs(ctx)
		if err != nil {
			return errcode.Wrap(errcode.InternalError, err, "read file tags")
		}
		missing = append(missing, without(tags, found)...)
	}
	if len(pins) > 0 {
		found, err := tx.FilePin.Query().Where(filepin.TypeEQ(filepin.TypeMessage), filepin.ItemHashIn(pins...)).
			Select(filepin.FieldItemHash).Strings(ctx)
		if err != nil {
			return errcode.Wrap(errcode.InternalError, err, "read file pins")
		}
		missing = append(missing, without(pins, found)...)
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		missing = slices.Compact(missing)
		e := errcode.Newf(errcode.VMVolumeNotFound, "volumes not found: %v", missing)
		e.Details = map[string]any{"errors": missing}
		return e.Awaiting(missing[0])
	}
	if err := h.checkParentSizes(ctx, tx, p); err != nil {
		return err
	}
	if p.base.Replaces == "" {
		return nil
	}
	target, err := tx.VM.Query().Where(vm.ID(p.base.Replaces), vm.TypeEQ(vm.TypeProgram)).Only(ctx)
	if ent.IsNotFound(err) {
		return errcode.Newf(errcode.VMRefNotFound, "replaced program %s is not known", p.base.Replaces).Awaiting(p.base.Replaces)
	}
	if err != nil {
		return errcode.Wrap(errcode.InternalError, err, "read replaced VM")
	}
	if target.Replaces != nil {
		return errcode.Newf(errcode.VMUpdateUpdate, "program %s itself replaces %s", target.ID, *target.Replaces)
	}
	ver, err := tx.VMVersion.Get(ctx, target.ID)
	if err != nil {
		return errcode.Wrap(errcode.InternalError, err, "read current version of "+target.ID)
	}
	cur, err := tx.VM.Get(ctx, ver.CurrentVersion)
	if err != nil {
		return errcode.Wrap(errcode.InternalError, err, "read current version of "+target.ID)
	}
	if !cur.AllowAmend {
		return errcode.Newf(errcode.VMAmendNotAllowed, "program %s does not allow amends", target.ID)
	}
	return nil
}

// without returns the items of want not in have.
func without(want, have []string) []string {
	var out []string
	for _, w := range want {
		if !slices.Contains(have, w) {
			out = append(out, w)
		}
	}
	return out
}

// checkParentSizes rejects a volume smaller than the file it copies.
func (h *VM) checkParentSizes(ctx context.Context, tx *ent.Tx, p vmParts) error {
	type sized struct {
		name    string
		parent  message.ParentVolume
		sizeMiB int64
	}
	var vols []sized
	for _, v := range p.base.Volumes {
		if v.Kind == message.VolumePersistent && v.Parent != nil {
			vols = append(vols, sized{v.Name, *v.Parent, v.SizeMiB})
		}
	}
	if p.instance != nil {
		vols = append(vols, sized{"rootfs", p.instance.Rootfs.Parent, p.instance.Rootfs.SizeMiB})
	}
	for _, v := range vols {
		f, err := refFile(ctx, tx, v.parent.Ref, v.parent.UseLatest)
		if err != nil {
			return err
		}
		if f == nil {
			return errcode.Newf(errcode.InternalError, "parent volume %s has no file", v.parent.Ref)
		}
		if size := v.sizeMiB << 20; size < f.Size {
			e := errcode.Newf(errcode.VMVolumeTooSmall, "volume %s (%d bytes) is smaller than its parent %s (%d bytes)", v.name, size, v.parent.Ref, f.Size)
			e.Details = map[string]any{"errors": []any{map[string]any{
				"volume_name": v.name, "parent_ref": v.parent.Ref, "parent_file": f.ID,
				"parent_size": f.Size, "volume_size": size,
			}}}
			return e
		}
	}
	return nil
}

// CheckPermissions implements Handler with the default rule.
func (*VM) CheckPermissions(ctx context.Context, tx *ent.Tx, m *message.Message) error {
	return CheckDefaultPermissions(ctx, tx, m)
}

// CheckBalance implements Handler (spec 5.4): the cost rows are always
// returned. A V-PROGRAM must pay with credits. A non-persistent PROGRAM
// sent before the free cut-off is free; after the credit-only cut-off
// every VM pays with credits, after the hold-and-stream cut-off every
// INSTANCE and persistent PROGRAM does (else INVALID_PAYMENT_METHOD). A
// stream is not checked; hold and credit are.
func (h *VM) CheckBalance(ctx context.Context, tx *ent.Tx, m *message.Message) ([]Cost, error) {
	p, err := vmContent(m)
	if err != nil {
		return nil, err
	}
	costs, total, err := computeCosts(ctx, tx, h.deps.Config, m)
	if err != nil {
		return nil, err
	}
	pt := cost.PaymentOf(m.Content)
	rules := h.deps.Config.Rules()
	if p.vprogram == nil {
		persistent := p.program != nil && p.program.On.Persistent != nil && *p.program.On.Persistent
		if p.program != nil && !persistent && rules.Free(m.Time, nil) {
			return costs, nil
		}
		if rules.CreditOnly(m.Time) && pt != message.PaymentCredit {
			return nil, errcode.New(errcode.InvalidPaymentMethod, "VMs must pay with credits")
		}
		if rules.HoldAndStreamDeprecated(m.Time) && (p.instance != nil || persistent) && pt != message.PaymentCredit {
			return nil, errcode.New(errcode.InvalidPaymentMethod, "instances and persistent programs must pay with credits")
		}
		if pt == message.PaymentSuperfluid {
			return costs, nil
		}
	} else if pt != message.PaymentCredit {
		return nil, errcode.New(errcode.InvalidPaymentMethod, "V-PROGRAM messages must pay with credits")
	}
	if err := ValidateBalance(ctx, tx, p.base.Address, total, pt, h.deps.Now()); err != nil {
		return nil, err
	}
	return costs, nil
}

// rawField returns the raw JSON of one top-level key of a content, nil
// when absent.
func rawField(raw, key string) json.RawMessage {
	var m map[string]json.RawMessage
	if json.Unmarshal([]byte(raw), &m) != nil {
		return nil
	}
	v := m[key]
	if string(v) == "null" {
		return nil
	}
	return v
}

// Process implements Handler: the VM row with all its volumes, and, for
// PROGRAM and INSTANCE, its version pointer when this version is newer.
func (h *VM) Process(ctx context.Context, tx *ent.Tx, m *message.Message) error {
	p, err := vmContent(m)
	if err != nil {
		return err
	}
	b := p.base
	created := message.Timestamp(b.Time)
	c := tx.VM.Create().SetID(m.ItemHash).SetOwner(b.Address).SetAllowAmend(b.AllowAmend).SetCreated(created).
		SetResourcesVcpus(int(b.Resources.VCPUs)).SetResourcesMemory(b.Resources.MemoryMiB).
		SetResourcesSeconds(b.Resources.Seconds).SetPaymentType(string(cost.PaymentOf(m.Content)))
	if b.Replaces != "" {
		c.SetReplaces(b.Replaces)
	}
	if b.Metadata != nil {
		c.SetMetadata(b.Metadata)
	}
	if v := rawField(b.Raw, "variables"); v != nil {
		c.SetVariables(v)
	}
	if b.AuthorizedKeys != nil {
		c.SetAuthorizedKeys(b.AuthorizedKeys)
	}
	if v := rawField(b.Raw, "environment"); v != nil {
		c.SetEnvironment(v)
	}
	if res := rawField(b.Raw, "resources"); res != nil {
		if v := rawField(string(res), "published_ports"); v != nil {
			c.SetPublishedPorts(v)
		}
	}
	if v := rawField(b.Raw, "requirements"); v != nil {
		c.SetRequirements(v)
	}
	if b.Requirements != nil && b.Requirements.Node != nil && b.Requirements.Node.NodeHash != "" {
		c.SetNodeHash(b.Requirements.Node.NodeHash)
	}
	if b.Payment != nil {
		if b.Payment.Chain != "" {
			c.SetPaymentChain(string(b.Payment.Chain))
		}
		if b.Payment.Receiver != "" {
			c.SetPaymentReceiver(b.Payment.Receiver)
		}
	}
	var vols []*ent.VMVolumeCreate
	vol := func(kind vmvolume.Kind, pos int) *ent.VMVolumeCreate {
		v := tx.VMVolume.Create().SetVMHash(m.ItemHash).SetKind(kind).SetPosition(pos)
		vols = append(vols, v)
		return v
	}
	switch {
	case p.program != nil:
		pr := p.program
		c.SetType(vm.TypeProgram).SetProgramType("vm-function").SetHTTPTrigger(pr.On.HTTP).
			SetPersistent(pr.On.Persistent != nil && *pr.On.Persistent)
		if pr.On.Message != nil {
			c.SetMessageTriggers(pr.On.Message)
		}
		code := vol(vmvolume.KindCode, 0).SetRef(pr.Code.Ref).SetUseLatest(pr.Code.UseLatest).
			SetEncoding(pr.Code.Encoding).SetEntrypoint(pr.Code.Entrypoint)
		if pr.Code.Interface != "" {
			code.SetInterface(pr.Code.Interface)
		}
		if pr.Code.Args != nil {
			code.SetArgs(pr.Code.Args)
		}
		vol(vmvolume.KindRuntime, 0).SetRef(pr.Runtime.Ref).SetUseLatest(pr.Runtime.UseLatest).SetComment(pr.Runtime.Comment)
		if d := pr.Data; d != nil {
			vol(vmvolume.KindData, 0).SetRef(d.Ref).SetUseLatest(d.UseLatest).SetEncoding(d.Encoding).SetMount(d.Mount)
		}
		if e := pr.Export; e != nil {
			vol(vmvolume.KindExport, 0).SetEncoding(e.Encoding).SetMount(e.Mount)
		}
	case p.instance != nil:
		in := p.instance
		c.SetType(vm.TypeInstance)
		if in.Environment.Hypervisor != "" {
			c.SetHypervisor(in.Environment.Hypervisor)
		}
		if t := in.Environment.Trusted; t != nil {
			c.SetTrustedExecutionPolicy(t.Policy)
			if t.Firmware != "" {
				c.SetTrustedExecutionFirmware(t.Firmware)
			}
		}
		vol(vmvolume.KindRootfs, 0).SetRef(in.Rootfs.Parent.Ref).SetUseLatest(in.Rootfs.Parent.UseLatest).
			SetPersistence(in.Rootfs.Persistence).SetSizeMib(in.Rootfs.SizeMiB)
	case p.vprogram != nil:
		vp := p.vprogram
		c.SetType(vm.TypeVprogram)
		vol(vmvolume.KindRuntime, 0).SetRef(vp.Runtime.Ref).SetComment(vp.Runtime.Comment)
		vol(vmvolume.KindWorkload, 0).SetRef(vp.Workload.Ref).SetHashTree(vp.Workload.HashTree).SetRoothash(vp.Workload.Roothash)
		for i, v := range vp.VerifiedVolumes {
			vv := vol(vmvolume.KindVerified, i).SetRef(v.Ref).SetHashTree(v.HashTree).SetRoothash(v.Roothash)
			if v.Comment != "" {
				vv.SetComment(v.Comment)
			}
		}
	}
	for i, v := range b.Volumes {
		vc := vol(vmvolume.Kind(v.Kind), i)
		if v.Mount != "" {
			vc.SetMount(v.Mount)
		}
		if v.Comment != "" {
			vc.SetComment(v.Comment)
		}
		switch v.Kind {
		case message.VolumeImmutable:
			vc.SetRef(v.Ref).SetUseLatest(v.UseLatest)
		case message.VolumeEphemeral:
			vc.SetSizeMib(v.SizeMiB)
		case message.VolumePersistent:
			vc.SetSizeMib(v.SizeMiB)
			if v.Parent != nil {
				vc.SetRef(v.Parent.Ref).SetUseLatest(v.Parent.UseLatest)
			}
			if v.Persistence != "" {
				vc.SetPersistence(v.Persistence)
			}
			if v.Name != "" {
				vc.SetName(v.Name)
			}
		}
	}
	if err := c.Exec(ctx); err != nil {
		return errcode.Wrap(errcode.InternalError, err, "insert VM")
	}
	if err := tx.VMVolume.CreateBulk(vols...).Exec(ctx); err != nil {
		return errcode.Wrap(errcode.InternalError, err, "insert VM volumes")
	}
	if p.vprogram != nil {
		return nil
	}
	root := m.ItemHash
	if b.Replaces != "" {
		root = b.Replaces
	}
	if err := Lock(ctx, tx, h.dialect, "vm_version:"+root); err != nil {
		return err
	}
	cur, err := tx.VMVersion.Get(ctx, root)
	switch {
	case ent.IsNotFound(err):
		err = tx.VMVersion.Create().SetID(root).SetOwner(b.Address).SetCurrentVersion(m.ItemHash).
			SetLastUpdated(created).Exec(ctx)
	case err != nil:
	case cur.LastUpdated.Before(created):
		err = tx.VMVersion.UpdateOneID(root).SetCurrentVersion(m.ItemHash).SetLastUpdated(created).Exec(ctx)
	}
	if err != nil {
		return errcode.Wrap(errcode.InternalError, err, "upsert VM version")
	}
	return nil
}

// Forget implements Handler: the VM row and its volumes go; forgetting an
// original also forgets the VMs replacing it (returned); the version
// pointer moves to the newest remaining version, or goes.
func (h *VM) Forget(ctx context.Context, tx *ent.Tx, target *ent.Message) ([]string, error) {
	row, err := tx.VM.Get(ctx, target.ID)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, errcode.Wrap(errcode.InternalError, err, "read VM")
	}
	var more []string
	if row.Replaces == nil {
		if more, err = tx.VM.Query().Where(vm.Replaces(row.ID)).IDs(ctx); err != nil {
			return nil, errcode.Wrap(errcode.InternalError, err, "read VM updates")
		}
	}
	if err := tx.VM.DeleteOneID(row.ID).Exec(ctx); err != nil {
		return nil, errcode.Wrap(errcode.InternalError, err, "delete VM")
	}
	if row.Type == vm.TypeVprogram {
		return more, nil
	}
	root := row.ID
	if row.Replaces != nil {
		root = *row.Replaces
	}
	if err := Lock(ctx, tx, h.dialect, "vm_version:"+root); err != nil {
		return nil, err
	}
	latest, err := tx.VM.Query().Where(vm.Or(vm.ID(root), vm.Replaces(root))).
		Order(ent.Desc(vm.FieldCreated), ent.Desc(vm.FieldID)).First(ctx)
	switch {
	case ent.IsNotFound(err):
		_, err = tx.VMVersion.Delete().Where(vmversion.ID(root)).Exec(ctx)
	case err != nil:
	default:
		err = tx.VMVersion.Create().SetID(root).SetOwner(latest.Owner).SetCurrentVersion(latest.ID).
			SetLastUpdated(latest.Created).OnConflictColumns(vmversion.FieldID).
			UpdateCurrentVersion().UpdateLastUpdated().Exec(ctx)
	}
	if err != nil {
		return nil, errcode.Wrap(errcode.InternalError, err, "refresh VM version")
	}
	return more, nil
}

// Interface guards
var _ Handler = (*VM)(nil)

// PaidHandlers returns the handlers of the paid message types (STORE,
// PROGRAM, INSTANCE, V-PROGRAM), for processor.Deps.Handlers; pair them
// with MoneyEffects in the POST handler's Deps.PostEffects.
func PaidHandlers(deps Deps, client *ent.Client, dialectName string) Registry {
	v := NewVM(deps, dialectName)
	return Registry{
		message.TypeStore:    NewStore(deps, client, dialectName),
		message.TypeProgram:  v,
		message.TypeInstance: v,
		message.TypeVProgram: v,
	}
}
