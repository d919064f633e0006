package cost

import (
	"errors"
	"testing"
)

// FuzzParsePricing: any aggregate content is either refused or yields
// products that are either refused with a typed error or complete.
func FuzzParsePricing(f *testing.F) {
	f.Add(defaultPricingJSON)
	f.Add([]byte(`{"storage": {"price": {"storage": {"holding": 0.1, "payg": 2, "credit": ""}}}}`))
	f.Add([]byte(`{"instance": {"price": {"storage": {}, "compute_unit": {"credit": "1e3"}}, "tiers": [{"id": "a", "compute_units": 1}], "compute_unit": {"vcpus": 1, "disk_mib": 1, "memory_mib": 0}}}`))
	f.Add([]byte(`{"storage": {"price": {"storage": {"holding": "NaN"}}}}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, content []byte) {
		p, err := ParsePricing(content)
		if err != nil {
			if !errors.Is(err, ErrInvalidPricing) {
				t.Fatalf("untyped error: %v", err)
			}
			return
		}
		for _, pt := range ProductTypes() {
			prod, err := p.Product(pt)
			if err != nil {
				if !errors.Is(err, ErrInvalidPricing) && !errors.Is(err, ErrInvalidNumber) && !errors.Is(err, ErrNoProduct) {
					t.Fatalf("%s: untyped error: %v", pt, err)
				}
				continue
			}
			for _, d := range []*Decimal{prod.Storage.Holding, prod.Storage.PAYG, prod.Storage.Credit} {
				if d == nil {
					t.Fatalf("%s: nil storage price", pt)
				}
			}
			if prod.ComputeUnit != nil && len(prod.Tiers) == 0 {
				t.Fatalf("%s: compute unit without tiers", pt)
			}
		}
	})
}

// FuzzParseSettings: settings content is refused with a typed error or
// every compatible GPU has a device id and a model.
func FuzzParseSettings(f *testing.F) {
	f.Add(defaultSettingsJSON)
	f.Add([]byte(`{"compatible_gpus": [{"model": "x"}]}`))
	f.Fuzz(func(t *testing.T, content []byte) {
		s, err := ParseSettings(content)
		if err != nil {
			if !errors.Is(err, ErrInvalidPricing) {
				t.Fatalf("untyped error: %v", err)
			}
			return
		}
		for _, g := range s.CompatibleGPUs {
			if g.DeviceID == "" || g.Model == "" {
				t.Fatalf("incomplete GPU %+v", g)
			}
		}
	})
}
