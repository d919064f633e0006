package cost

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/cockroachdb/apd/v3"
)

// ProductType is a priced product: one entry of the pricing aggregate.
type ProductType string

// The product types of the pricing aggregate (pyaleph ProductPriceType).
const (
	ProductStorage              ProductType = "storage"
	ProductWeb3Hosting          ProductType = "web3_hosting"
	ProductProgram              ProductType = "program"
	ProductProgramPersistent    ProductType = "program_persistent"
	ProductInstance             ProductType = "instance"
	ProductInstanceGPUPremium   ProductType = "instance_gpu_premium"
	ProductInstanceConfidential ProductType = "instance_confidential"
	ProductInstanceGPUStandard  ProductType = "instance_gpu_standard"
)

// ProductTypes lists every product type.
func ProductTypes() []ProductType {
	return []ProductType{
		ProductStorage, ProductWeb3Hosting, ProductProgram, ProductProgramPersistent,
		ProductInstance, ProductInstanceGPUPremium, ProductInstanceConfidential, ProductInstanceGPUStandard,
	}
}

// The aggregates the cost model reads, both owned by Config.PricingOwner on
// the network (pyaleph PRICE_AGGREGATE_KEY, SETTINGS_AGGREGATE_KEY).
const (
	PricingKey  = "pricing"
	SettingsKey = "settings"
)

// DefaultPricingOwner owns the network's pricing and settings aggregates.
const DefaultPricingOwner = "0xFba561a84A537fCaa567bb7A2257e7142701ae2A"

//go:embed default_pricing.json
var defaultPricingJSON []byte

//go:embed default_settings.json
var defaultSettingsJSON []byte

// PriceOptions are the prices of one unit (a MiB of storage or a compute
// unit) per payment type. Holding is tokens locked; PAYG and Credit are per
// hour.
type PriceOptions struct {
	Holding, PAYG, Credit *Decimal
}

// ComputeUnit is the size of one compute unit of a product.
type ComputeUnit struct {
	VCPUs, DiskMiB, MemoryMiB int64
}

// Tier is one tier of a product; GPU tiers name a GPU model.
type Tier struct {
	ID           string
	ComputeUnits int64
	Model        string
	VRAM         int64
}

// Product is the pricing of one product type, as the reference node reads
// it (pyaleph ProductPricing.from_aggregate), quirks included:
// ComputeUnitPrice is set only when the product has a top-level
// compute_unit, and ComputeUnit only when it also has tiers.
type Product struct {
	Type             ProductType
	Storage          PriceOptions
	ComputeUnitPrice *PriceOptions
	ComputeUnit      *ComputeUnit
	Tiers            []Tier
}

// Pricing is the content of a pricing aggregate: one raw entry per product
// type. Entries are parsed when a product is needed, as on the reference
// node, so a malformed entry only affects messages priced with it.
type Pricing struct {
	products map[string]json.RawMessage
}

// DefaultPricing returns the built-in pricing (pyaleph
// DEFAULT_PRICE_AGGREGATE), used while the network has no pricing
// aggregate.
func DefaultPricing() *Pricing {
	p, err := ParsePricing(defaultPricingJSON)
	if err != nil {
		panic(err)
	}
	return p
}

// ParsePricing reads the content of a pricing aggregate. It must be a JSON
// object; its entries are checked by Product.
func ParsePricing(content []byte) (*Pricing, error) {
	var products map[string]json.RawMessage
	if err := json.Unmarshal(content, &products); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidPricing, err)
	}
	if products == nil {
		return nil, fmt.Errorf("%w: not an object", ErrInvalidPricing)
	}
	return &Pricing{products: products}, nil
}

// Product parses the entry of one product type. A missing entry fails with
// ErrNoProduct; a malformed one with ErrInvalidPricing or ErrInvalidNumber.
func (p *Pricing) Product(t ProductType) (*Product, error) {
	raw, ok := p.products[string(t)]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrNoProduct, t)
	}
	obj, err := object(raw, string(t))
	if err != nil {
		return nil, err
	}
	priceRaw, ok := obj["price"]
	if !ok {
		return nil, fmt.Errorf("%w: %s.price is missing", ErrInvalidPricing, t)
	}
	price, err := object(priceRaw, string(t)+".price")
	if err != nil {
		return nil, err
	}
	storageRaw, ok := price["storage"]
	if !ok {
		return nil, fmt.Errorf("%w: %s.price.storage is missing", ErrInvalidPricing, t)
	}
	prod := &Product{Type: t}
	if prod.Storage, err = priceOptions(storageRaw, string(t)+".price.storage"); err != nil {
		return nil, err
	}
	if cu := obj["compute_unit"]; truthy(cu) {
		cuPriceRaw, ok := price["compute_unit"]
		if !ok {
			return nil, fmt.Errorf("%w: %s.price.compute_unit is missing", ErrInvalidPricing, t)
		}
		opts, err := priceOptions(cuPriceRaw, string(t)+".price.compute_unit")
		if err != nil {
			return nil, err
		}
		prod.ComputeUnitPrice = &opts
	}
	if tiersRaw := obj["tiers"]; truthy(tiersRaw) {
		var tiers []map[string]json.RawMessage
		if err := json.Unmarshal(tiersRaw, &tiers); err != nil {
			return nil, fmt.Errorf("%w: %s.tiers: %w", ErrInvalidPricing, t, err)
		}
		for i, tr := range tiers {
			field := fmt.Sprintf("%s.tiers[%d]", t, i)
			var tier Tier
			if tier.ID, err = str(tr["id"], field+".id", true); err != nil {
				return nil, err
			}
			if tier.ComputeUnits, err = integer(tr["compute_units"], field+".compute_units", true); err != nil {
				return nil, err
			}
			if tier.Model, err = str(tr["model"], field+".model", false); err != nil {
				return nil, err
			}
			if tier.VRAM, err = integer(tr["vram"], field+".vram", false); err != nil {
				return nil, err
			}
			prod.Tiers = append(prod.Tiers, tier)
		}
		cu, err := object(obj["compute_unit"], string(t)+".compute_unit")
		if err != nil {
			return nil, err
		}
		var unit ComputeUnit
		for _, f := range []struct {
			name string
			dst  *int64
		}{{"vcpus", &unit.VCPUs}, {"disk_mib", &unit.DiskMiB}, {"memory_mib", &unit.MemoryMiB}} {
			if *f.dst, err = integer(cu[f.name], string(t)+".compute_unit."+f.name, true); err != nil {
				return nil, err
			}
		}
		prod.ComputeUnit = &unit
	}
	return prod, nil
}

// object decodes a JSON object.
func object(raw json.RawMessage, field string) (map[string]json.RawMessage, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return nil, fmt.Errorf("%w: %s is not an object", ErrInvalidPricing, field)
	}
	return m, nil
}

// priceOptions reads {holding, payg, credit}; a missing or falsy price is 0
// (pyaleph Decimal(x or 0)).
func priceOptions(raw json.RawMessage, field string) (PriceOptions, error) {
	m, err := object(raw, field)
	if err != nil {
		return PriceOptions{}, err
	}
	var o PriceOptions
	for _, f := range []struct {
		name string
		dst  **Decimal
	}{{"holding", &o.Holding}, {"payg", &o.PAYG}, {"credit", &o.Credit}} {
		if *f.dst, err = number(m[f.name], field+"."+f.name); err != nil {
			return PriceOptions{}, err
		}
	}
	return o, nil
}

// truthy is Python's truth value of a JSON value; absent is false.
func truthy(raw json.RawMessage) bool {
	s := string(bytes.TrimSpace(raw))
	switch s {
	case "", "null", "false", `""`, "[]", "{}":
		return false
	}
	if s[0] == '[' || s[0] == '{' {
		// "[ ]" or "{ }" with inner spaces.
		inner := strings.TrimSpace(s[1 : len(s)-1])
		return inner != ""
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return f != 0
	}
	return true
}

// number is Python's Decimal(x or 0) on a JSON value: strings are read as
// decimals, integers exactly, floats by their exact binary value.
func number(raw json.RawMessage, field string) (*Decimal, error) {
	if !truthy(raw) {
		return apd.New(0, 0), nil
	}
	s := string(bytes.TrimSpace(raw))
	switch {
	case s == "true":
		return apd.New(1, 0), nil
	case s[0] == '"':
		var v string
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrInvalidPricing, field, err)
		}
		d, err := ParseDecimal(strings.TrimSpace(v))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", field, err)
		}
		return d, nil
	case s[0] == '-' || (s[0] >= '0' && s[0] <= '9'):
		if !strings.ContainsAny(s, ".eE") {
			d, err := ParseDecimal(s)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", field, err)
			}
			return d, nil
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %q", ErrInvalidNumber, field, s)
		}
		return FromFloat(f)
	}
	return nil, fmt.Errorf("%w: %s is not a number", ErrInvalidNumber, field)
}

// integer reads a JSON integer; an absent or null optional one is 0.
func integer(raw json.RawMessage, field string, required bool) (int64, error) {
	s := string(bytes.TrimSpace(raw))
	if s == "" || s == "null" {
		if required {
			return 0, fmt.Errorf("%w: %s is missing", ErrInvalidPricing, field)
		}
		return 0, nil
	}
	i, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %s is not an integer: %s", ErrInvalidPricing, field, s)
	}
	return i, nil
}

// str reads a JSON string; an absent or null optional one is "".
func str(raw json.RawMessage, field string, required bool) (string, error) {
	s := string(bytes.TrimSpace(raw))
	if s == "" || s == "null" {
		if required {
			return "", fmt.Errorf("%w: %s is missing", ErrInvalidPricing, field)
		}
		return "", nil
	}
	var v string
	if err := json.Unmarshal(raw, &v); err != nil {
		return "", fmt.Errorf("%w: %s is not a string", ErrInvalidPricing, field)
	}
	return v, nil
}

// CompatibleGPU is one GPU the network supports: its PCI device id and the
// model that names its pricing tier.
type CompatibleGPU struct {
	Name     string `json:"name"`
	Model    string `json:"model"`
	Vendor   string `json:"vendor"`
	DeviceID string `json:"device_id"`
}

// Settings is the content of the settings aggregate (pyaleph Settings).
type Settings struct {
	CompatibleGPUs           []CompatibleGPU `json:"compatible_gpus"`
	CommunityWalletAddress   string          `json:"community_wallet_address"`
	CommunityWalletTimestamp int64           `json:"community_wallet_timestamp"`
}

// DefaultSettings returns the built-in settings (pyaleph
// DEFAULT_SETTINGS_AGGREGATE).
func DefaultSettings() *Settings {
	s, err := ParseSettings(defaultSettingsJSON)
	if err != nil {
		panic(err)
	}
	return s
}

// ParseSettings reads the content of a settings aggregate; absent fields
// are empty.
func ParseSettings(content []byte) (*Settings, error) {
	var s Settings
	if err := json.Unmarshal(content, &s); err != nil {
		return nil, fmt.Errorf("%w: settings: %w", ErrInvalidPricing, err)
	}
	for i, g := range s.CompatibleGPUs {
		if g.DeviceID == "" || g.Model == "" {
			return nil, fmt.Errorf("%w: settings.compatible_gpus[%d] lacks device_id or model", ErrInvalidPricing, i)
		}
	}
	return &s, nil
}
