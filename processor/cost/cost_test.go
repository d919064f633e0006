package cost

import (
	"context"

	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/processor/message"
)

// sizes is a FileSizer over fixed tables: files by hash, and volume refs
// by (ref, use_latest).
type sizes struct {
	files map[string]int64
	refs  map[refKey]int64
}

type refKey struct {
	ref    string
	latest bool
}

func (s sizes) FileSize(_ context.Context, hash string) (int64, bool, error) {
	n, ok := s.files[hash]
	return n, ok, nil
}

func (s sizes) RefSize(_ context.Context, ref string, latest bool) (int64, bool, error) {
	n, ok := s.refs[refKey{ref, latest}]
	return n, ok, nil
}

// Interface guards
var _ FileSizer = sizes{}

func pay(t message.PaymentType) *message.Payment { return &message.Payment{Type: t} }

func res(vcpus, mem int64) message.Resources {
	return message.Resources{VCPUs: vcpus, MemoryMiB: mem, Seconds: 1}
}

func instance(pt message.PaymentType, r message.Resources, rootfs int64) *message.InstanceContent {
	c := &message.InstanceContent{Rootfs: message.Rootfs{Parent: message.ParentVolume{Ref: "rootfs", UseLatest: true}, Persistence: "host", SizeMiB: rootfs}}
	c.Resources = r
	c.Payment = pay(pt)
	return c
}

func withGPUs(c *message.InstanceContent, ids ...string) *message.InstanceContent {
	c.Requirements = &message.Requirements{}
	for _, id := range ids {
		c.Requirements.GPU = append(c.Requirements.GPU, message.GPU{Vendor: "NVIDIA", DeviceID: id, DeviceClass: "0300"})
	}
	return c
}

func program(pt message.PaymentType, r message.Resources, persistent, internet bool) *message.ProgramContent {
	c := &message.ProgramContent{
		Code:    message.Code{Encoding: "zip", Entrypoint: "main:app", Ref: "code"},
		Runtime: message.Runtime{Ref: "runtime", UseLatest: true, Comment: "rt"},
		On:      message.Triggers{HTTP: true, Persistent: &persistent},
	}
	c.Environment.Internet = internet
	c.Resources = r
	c.Payment = pay(pt)
	return c
}

func store(pt message.PaymentType, hash string) *message.StoreContent {
	return &message.StoreContent{ItemType: message.ItemStorage, ItemHash: hash, Payment: pay(pt)}
}

func TestCostsGolden(t *testing.T) {
	const mb = 1 << 20
	files := sizes{
		files: map[string]int64{"f10": 10 * mb, "fodd": 1234567, "f1": mb, "f300": 300*mb + 7, "f77": 77 * mb, "empty": 0},
		refs: map[refKey]int64{
			{"code", false}: 1234567, {"runtime", true}: 210763776, {"data", false}: 5*mb + 3,
			{"imm", true}: 100 * mb, {"tiny", false}: 1024,
		},
	}
	withVolumes := func(c *message.InstanceContent, v ...message.Volume) *message.InstanceContent {
		c.Volumes = v
		return c
	}
	persistentCredit := program(message.PaymentCredit, res(2, 3000), true, false)
	persistentCredit.Data = &message.Data{Encoding: "zip", Mount: "/data", Ref: "data"}
	persistentCredit.Volumes = []message.Volume{
		{Kind: message.VolumeImmutable, Ref: "imm", UseLatest: true},
		{Kind: message.VolumeImmutable, Ref: "missing", Mount: "/opt"},
		{Kind: message.VolumePersistent, SizeMiB: 1000, Persistence: "host", Name: "p"},
	}
	tiny := program(message.PaymentCredit, res(1, 128), false, false)
	tiny.Code.Ref, tiny.Runtime.Ref, tiny.Runtime.UseLatest = "tiny", "tiny", false
	confidential := instance(message.PaymentCredit, res(4, 8192), 20480)
	confidential.Environment.Trusted = &message.TrustedExecution{Policy: 1}
	confidential.Environment.Hypervisor = "qemu"
	vprog := &message.VProgramContent{}
	vprog.Resources = res(2, 2048)
	vprog.Payment = pay(message.PaymentCredit)

	cases := map[string]message.Content{
		"instance credit worked example": instance(message.PaymentCredit, res(2, 4096), 20480),
		"instance hold worked example":   instance(message.PaymentHold, res(2, 4096), 20480),
		"instance superfluid big rootfs": withVolumes(instance(message.PaymentSuperfluid, res(1, 2048), 102400),
			message.Volume{Kind: message.VolumePersistent, SizeMiB: 5000, Mount: "/data", Persistence: "host", Name: "d"},
			message.Volume{Kind: message.VolumeEphemeral, SizeMiB: 10}),
		"instance confidential credit":  confidential,
		"program internet hold":         program(message.PaymentHold, res(1, 128), false, true),
		"program persistent credit":     persistentCredit,
		"program tiny credit floor":     tiny,
		"vprogram credit":               vprog,
		"gpu standard rtx4090 credit":   withGPUs(instance(message.PaymentCredit, res(2, 8192), 61440), "10de:2684"),
		"gpu mixed h100 l40s hold":      withGPUs(instance(message.PaymentHold, res(4, 16384), 102400), "10de:2336", "10de:26b9"),
		"gpu floor by resources credit": withGPUs(instance(message.PaymentCredit, res(8, 49152), 61440), "10de:27b0"),
		"store hold 10 MiB":             store(message.PaymentHold, "f10"),
		"store hold odd size":           store(message.PaymentHold, "fodd"),
		"store credit minimum 25 MiB":   store(message.PaymentCredit, "f1"),
		"store credit 300 MiB":          store(message.PaymentCredit, "f300"),
		"store superfluid":              store(message.PaymentSuperfluid, "f77"),
	}
	require.Len(t, cases, len(golden), "every golden case has a content")
	m := DefaultModel()
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			want, ok := golden[name]
			require.True(t, ok)
			lines, err := m.Costs(t.Context(), "msg", c, files)
			require.NoError(t, err)
			got := make([]goldenLine, 0, len(lines))
			for _, l := range lines {
				require.Equal(t, PaymentOf(c), l.PaymentType)
				got = append(got, goldenLine{l.Type, l.Name, fixed(t, l.Hold), fixed(t, l.Stream), fixed(t, l.Credit)})
			}
			require.Equal(t, want.lines, got)
			total, err := Total(lines, PaymentOf(c))
			require.NoError(t, err)
			require.Equal(t, want.total, fixed(t, total))
		})
	}
}

func fixed(t *testing.T, d *Decimal) string {
	t.Helper()
	s, err := FormatFixed(d)
	require.NoError(t, err)
	return s
}

// TestWorkedExample checks the spec's worked example (5.3) string for
// string, in the exponent-preserving form Python prints.
func TestWorkedExample(t *testing.T) {
	m := DefaultModel()
	lines, err := m.Costs(t.Context(), "msg", instance(message.PaymentCredit, res(2, 4096), 20480), sizes{})
	require.NoError(t, err)
	require.Len(t, lines, 3)
	require.Equal(t, "7.916666666666666666", lines[0].Credit.String())
	require.Equal(t, "1.022150487075618588", lines[1].Credit.String())
	require.Equal(t, "-1.022150487075618588", lines[2].Credit.String())
	total, err := Total(lines, message.PaymentCredit)
	require.NoError(t, err)
	require.Equal(t, "7.916666666666666666", total.String())
	require.Nil(t, lines[0].Ref)
	require.Equal(t, "rootfs", *lines[1].Ref)

	lines, err = m.Costs(t.Context(), "msg", instance(message.PaymentHold, res(2, 4096), 20480), sizes{})
	require.NoError(t, err)
	total, err = Total(lines, message.PaymentHold)
	require.NoError(t, err)
	require.Equal(t, "2000.000000000000000000", total.String())
	require.Zero(t, total.Cmp(FromInt(2000)))
}

// TestEphemeralVolumesAreFree: an ephemeral volume adds no cost line and
// leaves every total unchanged, a deliberate difference from the reference
// node, which charges it as a persistent volume of its size_mib (README,
// "Where alephql deliberately differs"). One compute unit includes exactly
// the 20 GiB rootfs, so a charged volume would not be absorbed by the
// volume discount: the persistent volume of the same size shows it.
func TestEphemeralVolumesAreFree(t *testing.T) {
	m := DefaultModel()
	costs := func(vols ...message.Volume) ([]Line, string) {
		t.Helper()
		c := instance(message.PaymentHold, res(1, 2048), 20480)
		c.Volumes = vols
		lines, err := m.Costs(t.Context(), "msg", c, sizes{})
		require.NoError(t, err)
		total, err := Total(lines, message.PaymentHold)
		require.NoError(t, err)
		return lines, fixed(t, total)
	}
	bare, bareTotal := costs()
	require.Equal(t, "1000.000000000000000000", bareTotal, "one compute unit; the rootfs is within the included disk")

	lines, total := costs(message.Volume{Kind: message.VolumeEphemeral, SizeMiB: 1000, Mount: "/tmp"})
	require.Equal(t, "1000.000000000000000000", total, "the ephemeral volume is free")
	require.Equal(t, bare, lines, "no line for the ephemeral volume, the same discount")

	_, charged := costs(message.Volume{Kind: message.VolumePersistent, SizeMiB: 1000, Mount: "/tmp", Persistence: "host", Name: "p"})
	require.Equal(t, "1050.000000000000000000", charged, "the same size as a persistent volume is charged (1000 MiB at 0.05)")
}

func TestStoreWithoutFile(t *testing.T) {
	m := DefaultModel()
	files := sizes{files: map[string]int64{"empty": 0}}
	for _, hash := range []string{"unknown", "empty"} {
		lines, err := m.Costs(t.Context(), "msg", store(message.PaymentCredit, hash), files)
		require.NoError(t, err)
		require.Empty(t, lines, "no STORAGE line without a known, non-empty file (%s)", hash)
	}
}

func TestProductOf(t *testing.T) {
	m := DefaultModel()
	tee := instance(message.PaymentCredit, res(1, 2048), 20480)
	tee.Environment.Trusted = &message.TrustedExecution{Policy: 1}
	cases := []struct {
		name    string
		content message.Content
		want    ProductType
	}{
		{"store", store(message.PaymentHold, "x"), ProductStorage},
		{"program", program(message.PaymentHold, res(1, 128), false, true), ProductProgram},
		{"persistent program", program(message.PaymentHold, res(1, 128), true, false), ProductProgramPersistent},
		{"instance", instance(message.PaymentHold, res(1, 2048), 20480), ProductInstance},
		{"confidential", tee, ProductInstanceConfidential},
		{"vprogram", &message.VProgramContent{}, ProductInstanceConfidential},
		{"gpu standard", withGPUs(instance(message.PaymentCredit, res(1, 2048), 20480), "10de:2204", "10de:27b2"), ProductInstanceGPUStandard},
		{"gpu premium", withGPUs(instance(message.PaymentCredit, res(1, 2048), 20480), "10de:20b5"), ProductInstanceGPUPremium},
		{"gpu mixed", withGPUs(instance(message.PaymentCredit, res(1, 2048), 20480), "10de:2204", "10de:2330"), ProductInstanceGPUPremium},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := m.ProductOf(tc.content)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
	_, err := m.ProductOf(withGPUs(instance(message.PaymentCredit, res(1, 2048), 20480), "dead:beef"))
	require.ErrorIs(t, err, ErrUnknownGPU)
	_, err = m.ProductOf(&message.PostContent{})
	require.ErrorIs(t, err, ErrUnsupportedContent)
}

func TestDefaultPricing(t *testing.T) {
	p := DefaultPricing()
	want := map[ProductType]struct {
		cuHold, cuPAYG, cuCredit, stHold, stCredit string
		unit                                       *ComputeUnit
		tiers                                      int
	}{
		ProductProgram:              {"200", "0.011", "11000", "0.05", "0.977", &ComputeUnit{1, 2048, 2048}, 6},
		ProductProgramPersistent:    {"1000", "0.055", "55000", "0.05", "0.977", &ComputeUnit{1, 20480, 2048}, 6},
		ProductInstance:             {"1000", "0.055", "14250", "0.05", "0.17967489030626108", &ComputeUnit{1, 20480, 2048}, 6},
		ProductInstanceConfidential: {"2000", "0.11", "28500", "0.05", "0.17967489030626108", &ComputeUnit{1, 20480, 2048}, 6},
		ProductInstanceGPUStandard:  {"280", "0.28", "43125", "0", "0.17967489030626108", &ComputeUnit{1, 61440, 6144}, 4},
		ProductInstanceGPUPremium:   {"560", "0.56", "86250", "0", "0.17967489030626108", &ComputeUnit{1, 61440, 6144}, 2},
		ProductStorage:              {"", "", "", "0.333333333", "0.17967489030626108", nil, 0},
		ProductWeb3Hosting:          {"", "", "", "0.333333333", "0.17967489030626108", nil, 0},
	}
	require.Len(t, want, len(ProductTypes()))
	for _, pt := range ProductTypes() {
		t.Run(string(pt), func(t *testing.T) {
			w := want[pt]
			prod, err := p.Product(pt)
			require.NoError(t, err)
			require.Equal(t, w.stHold, prod.Storage.Holding.String())
			require.Equal(t, w.stCredit, prod.Storage.Credit.String())
			require.Equal(t, w.unit, prod.ComputeUnit)
			require.Len(t, prod.Tiers, w.tiers)
			if w.cuHold == "" {
				require.Nil(t, prod.ComputeUnitPrice)
				return
			}
			require.Equal(t, w.cuHold, prod.ComputeUnitPrice.Holding.String())
			require.Equal(t, w.cuPAYG, prod.ComputeUnitPrice.PAYG.String())
			require.Equal(t, w.cuCredit, prod.ComputeUnitPrice.Credit.String())
		})
	}
	gpu, err := p.Product(ProductInstanceGPUStandard)
	require.NoError(t, err)
	require.Equal(t, []Tier{
		{"tier-1", 3, "RTX 4000 ADA", 20480}, {"tier-2", 4, "RTX 3090", 24576},
		{"tier-3", 6, "RTX 4090", 24576}, {"tier-4", 12, "L40S", 49152},
	}, gpu.Tiers)
	require.Len(t, DefaultSettings().CompatibleGPUs, 19)
}

func TestParsePricing(t *testing.T) {
	cases := []struct {
		name    string
		content string
		check   func(t *testing.T, p *Product)
		err     error
	}{
		{
			name:    "numbers: ints exact, floats by binary value, falsy is zero",
			content: `{"storage": {"price": {"storage": {"holding": 0.1, "payg": 2, "credit": ""}}}}`,
			check: func(t *testing.T, p *Product) {
				require.Equal(t, "0.1000000000000000055511151231257827021181583404541015625", p.Storage.Holding.String())
				require.Equal(t, "2", p.Storage.PAYG.String())
				require.Equal(t, "0", p.Storage.Credit.String())
			},
		},
		{
			name:    "compute unit ignored without tiers (reference quirk)",
			content: `{"storage": {"price": {"storage": {}, "compute_unit": {"holding": "5"}}, "compute_unit": {"vcpus": 1, "disk_mib": 1, "memory_mib": 1}}}`,
			check: func(t *testing.T, p *Product) {
				require.Nil(t, p.ComputeUnit)
				require.Equal(t, "5", p.ComputeUnitPrice.Holding.String())
			},
		},
		{name: "missing product", content: `{}`, err: ErrNoProduct},
		{name: "missing price", content: `{"storage": {}}`, err: ErrInvalidPricing},
		{name: "missing storage", content: `{"storage": {"price": {}}}`, err: ErrInvalidPricing},
		{name: "bad decimal", content: `{"storage": {"price": {"storage": {"holding": "abc"}}}}`, err: ErrInvalidNumber},
		{name: "nan", content: `{"storage": {"price": {"storage": {"holding": "NaN"}}}}`, err: ErrInvalidNumber},
		{name: "list price", content: `{"storage": {"price": {"storage": {"holding": [1]}}}}`, err: ErrInvalidNumber},
		{name: "tier without id", content: `{"storage": {"price": {"storage": {}}, "tiers": [{"compute_units": 1}], "compute_unit": {"vcpus": 1, "disk_mib": 1, "memory_mib": 1}}}`, err: ErrInvalidPricing},
		{name: "tiers without compute unit", content: `{"storage": {"price": {"storage": {}}, "tiers": [{"id": "a", "compute_units": 1}]}}`, err: ErrInvalidPricing},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := ParsePricing([]byte(tc.content))
			require.NoError(t, err)
			prod, err := p.Product(ProductStorage)
			if tc.err != nil {
				require.ErrorIs(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			tc.check(t, prod)
		})
	}
	for _, bad := range []string{`[]`, `null`, `"x"`, `{`} {
		_, err := ParsePricing([]byte(bad))
		require.ErrorIs(t, err, ErrInvalidPricing, bad)
	}
}

// TestPricingAggregateChangesCosts: a pricing aggregate replaces the
// defaults entirely, and a product it lacks fails the computation (as on
// the reference node, which raises).
func TestPricingAggregateChangesCosts(t *testing.T) {
	p, err := ParsePricing([]byte(`{"storage": {"price": {"storage": {"holding": "1", "credit": "3600"}}}}`))
	require.NoError(t, err)
	m := Model{Pricing: p, Settings: DefaultSettings()}
	files := sizes{files: map[string]int64{"f": 30 << 20}}
	lines, err := m.Costs(t.Context(), "msg", store(message.PaymentCredit, "f"), files)
	require.NoError(t, err)
	require.Len(t, lines, 1)
	require.Equal(t, "30", lines[0].Hold.Text('f')[:2])
	require.Equal(t, "30.000000000000000000", fixed(t, lines[0].Credit))
	_, err = m.Costs(t.Context(), "msg", instance(message.PaymentCredit, res(1, 2048), 20480), files)
	require.ErrorIs(t, err, ErrNoProduct)
}

func TestDecimalHelpers(t *testing.T) {
	for _, tc := range []struct {
		f    float64
		want string
	}{
		{0.1, "0.1000000000000000055511151231257827021181583404541015625"},
		{1e22, "10000000000000000000000"},
		{-2.5, "-2.5"},
		{1234567.0 / (1 << 20), "1.17737483978271484375"},
		{3, "3"},
	} {
		d, err := FromFloat(tc.f)
		require.NoError(t, err)
		require.Equal(t, tc.want, d.Text('f'), tc.f)
	}
	for _, tc := range []struct{ a, b, want string }{
		{"7200", "3600", "2"},
		{"14250", "3600", "3.958333333333333333333333333"},
		{"1.00", "4", "0.25"},
		{"1", "4", "0.25"},
		{"0", "3600", "0"},
		{"0.000000977", "3600", "2.713888888888888888888888889E-10"},
	} {
		got, err := quo(mustDecimal(tc.a), mustDecimal(tc.b))
		require.NoError(t, err)
		require.Equal(t, tc.want, got.String(), "%s/%s", tc.a, tc.b)
	}
	for _, tc := range []struct {
		f    float64
		want string
	}{{1000, "1000.0"}, {1e16, "1e+16"}, {1.5e-05, "1.5e-05"}, {0.0001, "0.0001"}, {123.25, "123.25"}, {0, "0.0"}} {
		require.Equal(t, tc.want, PythonFloatText(tc.f))
	}
	for _, tc := range []struct{ in, want string }{{"1e+16", "10000000000000000"}, {"1.5e-05", "0.000015"}, {"1000.0", "1000.0"}, {"-0", "0"}} {
		got, err := NumericText(tc.in)
		require.NoError(t, err)
		require.Equal(t, tc.want, got)
	}
	s, err := FormatFixed(neg(mustDecimal("0")))
	require.NoError(t, err)
	require.Equal(t, "0.000000000000000000", s)
	sum, err := Sum([]string{"1000.0", "5", "0.25"})
	require.NoError(t, err)
	require.Equal(t, "1005.25", sum.String())
	_, err = Sum([]string{"x"})
	require.ErrorIs(t, err, ErrInvalidNumber)
}

func TestRules(t *testing.T) {
	r := DefaultRules()
	require.NoError(t, r.Validate())
	h := func(v int64) *int64 { return &v }
	require.True(t, r.Free(1743775078, nil))
	require.False(t, r.Free(1743775079, nil))
	require.True(t, r.Free(1900000000, h(22195999)), "confirmation height wins over time")
	require.False(t, r.Free(1000, h(22196000)))
	require.False(t, r.HoldAndStreamDeprecated(1773187199.999))
	require.True(t, r.HoldAndStreamDeprecated(1773187200))
	require.False(t, r.CreditOnly(1798761599))
	require.True(t, r.CreditOnly(1798761600))
	require.Equal(t, int64(50000), r.CreditAmount(5, time.Unix(1769990399, 0)))
	require.Equal(t, int64(5), r.CreditAmount(5, time.Unix(1769990400, 0)))
	r.CreditPrecisionMultiplier = 0
	require.Error(t, r.Validate())
}

func TestPaymentOf(t *testing.T) {
	require.Equal(t, message.PaymentHold, PaymentOf(&message.StoreContent{}))
	require.Equal(t, message.PaymentCredit, PaymentOf(store(message.PaymentCredit, "x")))
	require.Equal(t, message.PaymentSuperfluid, PaymentOf(instance(message.PaymentSuperfluid, res(1, 1), 1)))
	require.Equal(t, message.PaymentHold, PaymentOf(&message.PostContent{}))
}
