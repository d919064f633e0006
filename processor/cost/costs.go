package cost

import (
	"context"
	"fmt"

	"github.com/cockroachdb/apd/v3"

	"github.com/alephql/alephql/processor/message"
)

// Cost types: the type column of account_costs (pyaleph CostType; the
// misspelling INMUTABLE is the protocol's).
const (
	TypeExecution                  = "EXECUTION"
	TypeVolumePersistent           = "EXECUTION_VOLUME_PERSISTENT"
	TypeVolumeImmutable            = "EXECUTION_VOLUME_INMUTABLE"
	TypeVolumeDiscount             = "EXECUTION_VOLUME_DISCOUNT"
	TypeInstanceVolumeRootfs       = "EXECUTION_INSTANCE_VOLUME_ROOTFS"
	TypeProgramVolumeCode          = "EXECUTION_PROGRAM_VOLUME_CODE"
	TypeProgramVolumeRuntime       = "EXECUTION_PROGRAM_VOLUME_RUNTIME"
	TypeProgramVolumeData          = "EXECUTION_PROGRAM_VOLUME_DATA"
	TypeStorage                    = "STORAGE"
	hour                     int64 = 3600
	mib                            = 1 << 20
)

// Constants of the formulas (pyaleph toolkit/constants.py).
const (
	// MinStoreCostMiB is the smallest size a credit-paid STORE is billed
	// for.
	MinStoreCostMiB = 25
	// MinCreditCostPerHour is the smallest credit price of a VM's
	// execution or of a volume, in credits per hour.
	MinCreditCostPerHour = 1
)

// Line is one cost row of a message (one account_costs row): the amount
// locked (Hold), streamed per second (Stream) and spent in credits per
// second (Credit), each floored to Precision decimals.
type Line struct {
	Type        string
	Name        string
	Ref         *string
	PaymentType message.PaymentType
	Hold        *Decimal
	Stream      *Decimal
	Credit      *Decimal
}

// FileSizer finds the size of the files a message refers to. The handlers
// implement it with the database (files, file_pins, file_tags).
type FileSizer interface {
	// FileSize returns the size in bytes of the stored file hash; ok is
	// false when the node has no such file.
	FileSize(ctx context.Context, hash string) (size int64, ok bool, err error)
	// RefSize returns the size of the file a volume refers to: the latest
	// version of tag ref when useLatest, otherwise the file of the STORE
	// message ref; ok is false when it is unknown.
	RefSize(ctx context.Context, ref string, useLatest bool) (size int64, ok bool, err error)
}

// Model prices messages with one pricing and one settings aggregate.
type Model struct {
	Pricing  *Pricing
	Settings *Settings
}

// DefaultModel prices with the built-in pricing and settings.
func DefaultModel() Model {
	return Model{Pricing: DefaultPricing(), Settings: DefaultSettings()}
}

// PaymentOf is the payment type a content is billed with: its payment's
// type, hold when it has none (pyaleph get_payment_type).
func PaymentOf(c message.Content) message.PaymentType {
	var p *message.Payment
	switch c := c.(type) {
	case *message.StoreContent:
		p = c.Payment
	case *message.ProgramContent:
		p = c.Payment
	case *message.InstanceContent:
		p = c.Payment
	case *message.VProgramContent:
		p = c.Payment
	}
	if p == nil || p.Type == "" {
		return message.PaymentHold
	}
	switch p.Type {
	case message.PaymentCredit, message.PaymentSuperfluid:
		return p.Type
	}
	return message.PaymentHold
}

// Total is the message's cost in its payment type: the sum of that column
// over its lines, floored (pyaleph get_total_and_detailed_costs).
func Total(lines []Line, pt message.PaymentType) (*Decimal, error) {
	total := apd.New(0, 0)
	var err error
	for _, l := range lines {
		v := l.Hold
		switch pt {
		case message.PaymentSuperfluid:
			v = l.Stream
		case message.PaymentCredit:
			v = l.Credit
		}
		if total, err = add(total, v); err != nil {
			return nil, err
		}
	}
	return Floor(total)
}

// isPersistent reports on.persistent of a program.
func isPersistent(p *message.ProgramContent) bool {
	return p.On.Persistent != nil && *p.On.Persistent
}

// ProductOf selects the product a content is priced as (spec 5.2): STORE →
// storage; PROGRAM → program, or program_persistent when on.persistent;
// V-PROGRAM → instance_confidential; INSTANCE → instance_confidential with
// trusted execution, a GPU product with GPUs (standard when every GPU is a
// standard one, premium otherwise), instance otherwise.
func (m Model) ProductOf(c message.Content) (ProductType, error) {
	switch c := c.(type) {
	case *message.StoreContent:
		return ProductStorage, nil
	case *message.ProgramContent:
		if isPersistent(c) {
			return ProductProgramPersistent, nil
		}
		return ProductProgram, nil
	case *message.VProgramContent:
		return ProductInstanceConfidential, nil
	case *message.InstanceContent:
		if c.Environment.Trusted != nil {
			return ProductInstanceConfidential, nil
		}
		if c.Requirements == nil || len(c.Requirements.GPU) == 0 {
			return ProductInstance, nil
		}
		tiers, _, err := m.gpuTiers(c)
		if err != nil {
			return "", err
		}
		if len(tiers) == 1 && tiers[0].product == ProductInstanceGPUStandard {
			return ProductInstanceGPUStandard, nil
		}
		return ProductInstanceGPUPremium, nil
	}
	return "", fmt.Errorf("%w: %T", ErrUnsupportedContent, c)
}

// Costs computes the cost lines of a STORE, PROGRAM, INSTANCE or V-PROGRAM
// content (pyaleph get_detailed_costs). itemHash is the message's hash.
func (m Model) Costs(ctx context.Context, itemHash string, c message.Content, files FileSizer) ([]Line, error) {
	if s, ok := c.(*message.StoreContent); ok {
		return m.storeCosts(ctx, itemHash, s, files)
	}
	return m.executableCosts(ctx, c, files)
}

// prices are a product's per-MiB storage prices, per hour already divided
// into per second.
type prices struct {
	hold, stream, credit *Decimal
}

// perSecond divides a per-hour price by 3600, as the reference node does
// before multiplying.
func perSecond(o PriceOptions) (prices, error) {
	h := FromInt(hour)
	stream, err := quo(o.PAYG, h)
	if err != nil {
		return prices{}, err
	}
	credit, err := quo(o.Credit, h)
	if err != nil {
		return prices{}, err
	}
	return prices{hold: o.Holding, stream: stream, credit: credit}, nil
}

// volume is a priced volume: a size, or a file reference to resolve.
type volume struct {
	typ, name string
	ref       *string
	size      *Decimal // MiB; nil for file references
	useLatest bool
}

func strPtr(s string) *string { return &s }

// fileMiB is a file size in MiB the reference node's way:
// Decimal(size / MiB), a float division.
func fileMiB(size int64) (*Decimal, error) { return FromFloat(float64(size) / mib) }

// minCreditPerSecond is format_cost(1/3600).
func minCreditPerSecond() (*Decimal, error) {
	d, err := quo(FromInt(MinCreditCostPerHour), FromInt(hour))
	if err != nil {
		return nil, err
	}
	return Floor(d)
}

// maxDec is Python's max(a, b): a unless b is greater.
func maxDec(a, b *Decimal) *Decimal {
	if b.Cmp(a) > 0 {
		return b
	}
	return a
}

// minDec is Python's min(a, b): a unless b is smaller.
func minDec(a, b *Decimal) *Decimal {
	if b.Cmp(a) < 0 {
		return b
	}
	return a
}

// line prices size MiB (or compute units) at p.
func line(typ, name string, ref *string, pt message.PaymentType, size *Decimal, p prices, minCredit bool) (Line, error) {
	l := Line{Type: typ, Name: name, Ref: ref, PaymentType: pt}
	for _, f := range []struct {
		dst   **Decimal
		price *Decimal
	}{{&l.Hold, p.hold}, {&l.Stream, p.stream}, {&l.Credit, p.credit}} {
		v, err := mul(size, f.price)
		if err != nil {
			return Line{}, err
		}
		if *f.dst, err = Floor(v); err != nil {
			return Line{}, err
		}
	}
	if minCredit && pt == message.PaymentCredit {
		floor, err := minCreditPerSecond()
		if err != nil {
			return Line{}, err
		}
		l.Credit = maxDec(l.Credit, floor)
	}
	return l, nil
}

// volumeLines prices volumes (pyaleph _get_volumes_costs); references to
// unknown files are skipped, as the reference node does for legacy VMs.
func volumeLines(ctx context.Context, vols []volume, pt message.PaymentType, p prices, files FileSizer) ([]Line, error) {
	var lines []Line
	for _, v := range vols {
		size := v.size
		if size == nil {
			n, ok, err := files.RefSize(ctx, *v.ref, v.useLatest)
			if err != nil {
				return nil, err
			}
			if !ok {
				continue
			}
			if size, err = fileMiB(n); err != nil {
				return nil, err
			}
		}
		l, err := line(v.typ, v.name, v.ref, pt, size, p, true)
		if err != nil {
			return nil, err
		}
		lines = append(lines, l)
	}
	return lines, nil
}

// storeCosts prices a STORE: one STORAGE line for the file's size, at least
// MinStoreCostMiB when paid with credits; none when the file is unknown or
// empty.
func (m Model) storeCosts(ctx context.Context, itemHash string, c *message.StoreContent, files FileSizer) ([]Line, error) {
	n, ok, err := files.FileSize(ctx, c.ItemHash)
	if err != nil || !ok {
		return nil, err
	}
	size, err := fileMiB(n)
	if err != nil || size.IsZero() {
		return nil, err
	}
	pt := PaymentOf(c)
	if pt == message.PaymentCredit && size.Cmp(FromInt(MinStoreCostMiB)) < 0 {
		size = FromInt(MinStoreCostMiB)
	}
	prod, err := m.Pricing.Product(ProductStorage)
	if err != nil {
		return nil, err
	}
	p, err := perSecond(prod.Storage)
	if err != nil {
		return nil, err
	}
	return volumeLines(ctx, []volume{{typ: TypeStorage, name: TypeStorage, ref: strPtr(itemHash), size: size}}, pt, p, files)
}

// executable is what the executable formulas read from a content.
type executable struct {
	base     *message.ExecutableContent
	program  *message.ProgramContent
	instance *message.InstanceContent
}

func executableOf(c message.Content) (executable, error) {
	switch c := c.(type) {
	case *message.ProgramContent:
		return executable{base: &c.ExecutableContent, program: c}, nil
	case *message.InstanceContent:
		return executable{base: &c.ExecutableContent, instance: c}, nil
	case *message.VProgramContent:
		return executable{base: &c.ExecutableContent}, nil
	}
	return executable{}, fmt.Errorf("%w: %T", ErrUnsupportedContent, c)
}

// computeUnits is max(vcpus, ⌈memory / cu.memory_mib⌉), with the default
// unit {1 vCPU, 2048 MiB} when the product has none.
func computeUnits(r message.Resources, cu *ComputeUnit) (int64, error) {
	memUnit := int64(2048)
	if cu != nil {
		memUnit = cu.MemoryMiB
	}
	if memUnit <= 0 {
		return 0, fmt.Errorf("%w: compute unit memory_mib %d", ErrInvalidPricing, memUnit)
	}
	mem := (r.MemoryMiB + memUnit - 1) / memUnit
	if r.VCPUs >= mem {
		return r.VCPUs, nil
	}
	return mem, nil
}

// multiplier is 2 for a non-persistent program with internet access.
func (e executable) multiplier() int64 {
	if e.program != nil && !isPersistent(e.program) && e.program.Environment.Internet {
		return 2
	}
	return 1
}

func (m Model) executableCosts(ctx context.Context, c message.Content, files FileSizer) ([]Line, error) {
	e, err := executableOf(c)
	if err != nil {
		return nil, err
	}
	pt := PaymentOf(c)
	if e.instance != nil && e.instance.Requirements != nil && len(e.instance.Requirements.GPU) > 0 {
		return m.gpuCosts(ctx, e, pt, files)
	}
	pt2, err := m.ProductOf(c)
	if err != nil {
		return nil, err
	}
	prod, err := m.Pricing.Product(pt2)
	if err != nil {
		return nil, err
	}
	if prod.ComputeUnitPrice == nil {
		return nil, fmt.Errorf("%w: compute_unit price not defined for %s", ErrInvalidPricing, prod.Type)
	}
	cus, err := computeUnits(e.base.Resources, prod.ComputeUnit)
	if err != nil {
		return nil, err
	}
	p, err := perSecond(*prod.ComputeUnitPrice)
	if err != nil {
		return nil, err
	}
	exec, err := line(TypeExecution, string(prod.Type), nil, pt, FromInt(cus*e.multiplier()), p, true)
	if err != nil {
		return nil, err
	}
	rest, err := m.storageLines(ctx, e, prod, pt, files)
	if err != nil {
		return nil, err
	}
	return append([]Line{exec}, rest...), nil
}

// volumeName is the name of the i-th machine volume's line:
// "#i:<mount>", or "#i:CostType.<TYPE>" without a mount — the reference
// node formats its str-enum in an f-string, which Python 3.12 renders with
// the class name.
func volumeName(i int, mount, typ string) string {
	if mount == "" {
		mount = "CostType." + typ
	}
	return fmt.Sprintf("#%d:%s", i, mount)
}

// storageLines are a VM's volume lines and its volume discount
// (pyaleph _get_additional_storage_price).
func (m Model) storageLines(ctx context.Context, e executable, prod *Product, pt message.PaymentType, files FileSizer) ([]Line, error) {
	var vols []volume
	switch {
	case e.instance != nil:
		vols = append(vols, volume{typ: TypeInstanceVolumeRootfs, name: TypeInstanceVolumeRootfs,
			ref: strPtr(e.instance.Rootfs.Parent.Ref), size: FromInt(e.instance.Rootfs.SizeMiB)})
	case e.program != nil:
		pr := e.program
		vols = append(vols,
			volume{typ: TypeProgramVolumeCode, name: TypeProgramVolumeCode, ref: strPtr(pr.Code.Ref), useLatest: pr.Code.UseLatest},
			volume{typ: TypeProgramVolumeRuntime, name: TypeProgramVolumeRuntime, ref: strPtr(pr.Runtime.Ref), useLatest: pr.Runtime.UseLatest})
		if pr.Data != nil {
			vols = append(vols, volume{typ: TypeProgramVolumeData, name: TypeProgramVolumeData, ref: strPtr(pr.Data.Ref), useLatest: pr.Data.UseLatest})
		}
	}
	for i, v := range e.base.Volumes {
		switch v.Kind {
		case message.VolumeImmutable:
			vols = append(vols, volume{typ: TypeVolumeImmutable, name: volumeName(i, v.Mount, TypeVolumeImmutable),
				ref: strPtr(v.Ref), useLatest: v.UseLatest})
		case message.VolumeEphemeral:
			// A deliberate difference from the reference node: ephemeral
			// volumes are free (spec 5.3: scratch space inside the host's
			// allocation, lost when the VM stops), so they get no line and
			// do not count towards the volume discount. pyaleph's
			// _get_additional_storage_price prices every non-immutable
			// volume by its size_mib, ephemeral ones included (a bug the
			// spec lists; see README, "Where alephql deliberately differs").
		default:
			vols = append(vols, volume{typ: TypeVolumePersistent, name: volumeName(i, v.Mount, TypeVolumePersistent),
				size: FromInt(v.SizeMiB)})
		}
	}
	p, err := perSecond(prod.Storage)
	if err != nil {
		return nil, err
	}
	lines, err := volumeLines(ctx, vols, pt, p, files)
	if err != nil {
		return nil, err
	}
	// The discount: up to the disk included in the compute units.
	cus, err := computeUnits(e.base.Resources, prod.ComputeUnit)
	if err != nil {
		return nil, err
	}
	var diskMiB int64
	if prod.ComputeUnit != nil {
		diskMiB = prod.ComputeUnit.DiskMiB
	}
	included := FromInt(diskMiB * cus)
	disc := Line{Type: TypeVolumeDiscount, Name: TypeVolumeDiscount, PaymentType: pt}
	for _, f := range []struct {
		dst   **Decimal
		price *Decimal
		col   func(Line) *Decimal
	}{
		{&disc.Hold, p.hold, func(l Line) *Decimal { return l.Hold }},
		{&disc.Stream, p.stream, func(l Line) *Decimal { return l.Stream }},
		{&disc.Credit, p.credit, func(l Line) *Decimal { return l.Credit }},
	} {
		maxDiscount, err := mul(included, f.price)
		if err != nil {
			return nil, err
		}
		sum := apd.New(0, 0)
		for _, l := range lines {
			if sum, err = add(sum, f.col(l)); err != nil {
				return nil, err
			}
		}
		if *f.dst, err = Floor(neg(minDec(sum, maxDiscount))); err != nil {
			return nil, err
		}
	}
	return append(lines, disc), nil
}

// gpuTier is the compute units a GPU instance uses in one GPU product.
type gpuTier struct {
	product ProductType
	pricing *Product
	units   int64
}

// gpuTiers maps each GPU to its model (settings) and its model to a tier
// of the premium, else the standard, GPU product, and sums compute units
// per product in order of first use.
func (m Model) gpuTiers(c *message.InstanceContent) ([]gpuTier, map[ProductType]*Product, error) {
	products := map[ProductType]*Product{}
	for _, t := range []ProductType{ProductInstanceGPUPremium, ProductInstanceGPUStandard} {
		p, err := m.Pricing.Product(t)
		if err != nil {
			return nil, nil, err
		}
		products[t] = p
	}
	var tiers []gpuTier
	addUnits := func(t ProductType, units int64) {
		for i := range tiers {
			if tiers[i].product == t {
				tiers[i].units += units
				return
			}
		}
		tiers = append(tiers, gpuTier{product: t, pricing: products[t], units: units})
	}
	for _, gpu := range c.Requirements.GPU {
		model := ""
		for _, g := range m.Settings.CompatibleGPUs {
			if g.DeviceID == gpu.DeviceID {
				model = g.Model
				break
			}
		}
		if model == "" {
			return nil, nil, fmt.Errorf("%w: device_id %s not found in compatible GPUs", ErrUnknownGPU, gpu.DeviceID)
		}
		found := false
		for _, t := range []ProductType{ProductInstanceGPUPremium, ProductInstanceGPUStandard} {
			for _, tier := range products[t].Tiers {
				if tier.Model == model {
					addUnits(t, tier.ComputeUnits)
					found = true
					break
				}
			}
			if found {
				break
			}
		}
		if !found {
			return nil, nil, fmt.Errorf("%w: model %s is in no GPU tier", ErrUnknownGPU, model)
		}
	}
	return tiers, products, nil
}

// gpuCosts prices a GPU instance: one EXECUTION line per GPU product used
// (the VM's own compute units are a floor added to the dominant product),
// and the storage lines at premium prices
// (pyaleph _calculate_multi_tier_gpu_execution_cost).
func (m Model) gpuCosts(ctx context.Context, e executable, pt message.PaymentType, files FileSizer) ([]Line, error) {
	tiers, products, err := m.gpuTiers(e.instance)
	if err != nil {
		return nil, err
	}
	dominant := ProductInstanceGPUStandard
	for _, t := range tiers {
		if t.product == ProductInstanceGPUPremium {
			dominant = ProductInstanceGPUPremium
		}
	}
	resourceUnits, err := computeUnits(e.base.Resources, products[dominant].ComputeUnit)
	if err != nil {
		return nil, err
	}
	var total int64
	for _, t := range tiers {
		total += t.units
	}
	if resourceUnits > total {
		for i := range tiers {
			if tiers[i].product == dominant {
				tiers[i].units += resourceUnits - total
			}
		}
	}
	var lines []Line
	for _, t := range tiers {
		if t.pricing.ComputeUnitPrice == nil {
			return nil, fmt.Errorf("%w: compute_unit price not defined for %s", ErrInvalidPricing, t.product)
		}
		p, err := perSecond(*t.pricing.ComputeUnitPrice)
		if err != nil {
			return nil, err
		}
		l, err := line(TypeExecution, string(t.product), nil, pt, FromInt(t.units*e.multiplier()), p, false)
		if err != nil {
			return nil, err
		}
		lines = append(lines, l)
	}
	rest, err := m.storageLines(ctx, e, products[ProductInstanceGPUPremium], pt, files)
	if err != nil {
		return nil, err
	}
	return append(lines, rest...), nil
}
