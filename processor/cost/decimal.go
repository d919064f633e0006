package cost

import (
	"fmt"
	"math"
	"math/big"
	"strconv"

	"github.com/cockroachdb/apd/v3"
)

// Precision is the number of decimals every cost component is floored to
// (pyaleph PRICE_PRECISION).
const Precision = 18

// arith is the arithmetic context of the reference node: Python's default
// decimal context (28 significant digits, ROUND_HALF_EVEN, exponents within
// ±999999, InvalidOperation, DivisionByZero and Overflow trapped).
var arith = apd.Context{
	Precision:   28,
	Rounding:    apd.RoundHalfEven,
	MaxExponent: 999999,
	MinExponent: -999999,
	Traps:       apd.InvalidOperation | apd.DivisionByZero | apd.Overflow,
}

// floorCtx quantizes with ROUND_FLOOR in the same precision
// (pyaleph toolkit/costs.py format_cost).
var floorCtx = func() apd.Context { c := arith; c.Rounding = apd.RoundFloor; return c }()

// Decimal is an exact decimal number with Python's Decimal semantics for
// the operations this package uses (sign, coefficient and exponent are
// kept, so 2000 and 2000.000000000000000000 print differently, as in
// Python).
type Decimal = apd.Decimal

// ParseDecimal reads a finite decimal the way Python's Decimal(str) does
// for the forms prices use ("0.05", "1e-3", "-2"). NaN and infinities are
// refused.
func ParseDecimal(s string) (*Decimal, error) {
	d, _, err := apd.NewFromString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: %q", ErrInvalidNumber, s)
	}
	if d.Form != apd.Finite {
		return nil, fmt.Errorf("%w: %q is not finite", ErrInvalidNumber, s)
	}
	return d, nil
}

// mustDecimal parses a constant.
func mustDecimal(s string) *Decimal {
	d, err := ParseDecimal(s)
	if err != nil {
		panic(err)
	}
	return d
}

// FromInt returns the exact decimal of an integer, like Python's
// Decimal(int).
func FromInt(i int64) *Decimal { return apd.New(i, 0) }

// FromFloat returns the exact value of a binary float, like Python's
// Decimal(float) (Decimal(0.1) is
// 0.1000000000000000055511151231257827021181583404541015625): no rounding.
func FromFloat(f float64) (*Decimal, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, fmt.Errorf("%w: %v is not finite", ErrInvalidNumber, f)
	}
	if f == 0 {
		d := apd.New(0, 0)
		d.Negative = math.Signbit(f)
		return d, nil
	}
	// f = mant · 2^exp with an integer mant: mant·5^-exp / 10^-exp when
	// exp < 0.
	frac, exp := math.Frexp(f) // f = frac · 2^exp, 0.5 ≤ |frac| < 1
	mant := int64(math.Ldexp(frac, 53))
	exp -= 53
	for mant%2 == 0 && exp < 0 {
		mant /= 2
		exp++
	}
	coeff := new(big.Int).SetInt64(mant)
	var d Decimal
	if exp >= 0 {
		coeff.Lsh(coeff, uint(exp))
		d.Coeff.SetMathBigInt(coeff)
	} else {
		five := new(big.Int).Exp(big.NewInt(5), big.NewInt(int64(-exp)), nil)
		coeff.Mul(coeff, five)
		d.Coeff.SetMathBigInt(coeff)
		d.Exponent = int32(exp)
	}
	if d.Coeff.Sign() < 0 {
		d.Coeff.Neg(&d.Coeff)
		d.Negative = true
	}
	return &d, nil
}

// add returns a+b in the reference context.
func add(a, b *Decimal) (*Decimal, error) {
	var r Decimal
	if _, err := arith.Add(&r, a, b); err != nil {
		return nil, fmt.Errorf("cost: %v + %v: %w", a, b, err)
	}
	return &r, nil
}

// mul returns a·b in the reference context.
func mul(a, b *Decimal) (*Decimal, error) {
	var r Decimal
	if _, err := arith.Mul(&r, a, b); err != nil {
		return nil, fmt.Errorf("cost: %v × %v: %w", a, b, err)
	}
	return &r, nil
}

// quo returns a/b in the reference context. Like Python (and unlike apd),
// an exact quotient is reduced to its ideal exponent, exp(a) − exp(b):
// 7200/3600 is 2, not 2.000000000000000000000000000.
func quo(a, b *Decimal) (*Decimal, error) {
	var r Decimal
	cond, err := arith.Quo(&r, a, b)
	if err != nil {
		return nil, fmt.Errorf("cost: %v / %v: %w", a, b, err)
	}
	if !cond.Inexact() {
		ideal := a.Exponent - b.Exponent
		ten := big.NewInt(10)
		c := r.Coeff.MathBigInt()
		var q, m big.Int
		for r.Exponent < ideal && c.Sign() != 0 {
			q.QuoRem(c, ten, &m)
			if m.Sign() != 0 {
				break
			}
			c.Set(&q)
			r.Exponent++
		}
		if c.Sign() == 0 && r.Exponent < ideal {
			r.Exponent = ideal
		}
		r.Coeff.SetMathBigInt(c)
	}
	return &r, nil
}

// neg returns −a like Python's unary minus: exact, keeps the exponent,
// and gives +0 for a zero (outside ROUND_FLOOR contexts).
func neg(a *Decimal) *Decimal {
	var r Decimal
	r.Neg(a)
	if r.IsZero() {
		r.Negative = false
	}
	return &r
}

// Floor quantizes d to Precision decimals rounding towards −∞: pyaleph's
// format_cost, applied to every cost component.
func Floor(d *Decimal) (*Decimal, error) {
	var r Decimal
	if _, err := floorCtx.Quantize(&r, d, -Precision); err != nil {
		return nil, fmt.Errorf("cost: quantize %v: %w", d, err)
	}
	return &r, nil
}

// FormatFixed writes d with exactly Precision decimals, like pyaleph's
// format_cost_str ("{:.18f}"), after flooring it; negative zero is written
// without sign, as PostgreSQL's NUMERIC stores it.
func FormatFixed(d *Decimal) (string, error) {
	f, err := Floor(d)
	if err != nil {
		return "", err
	}
	if f.IsZero() {
		f.Negative = false
	}
	return f.Text('f'), nil
}

// Sum adds decimal strings exactly (as PostgreSQL's sum over NUMERIC does)
// and returns the total; an empty list sums to 0.
func Sum(values []string) (*Decimal, error) {
	total := apd.New(0, 0)
	for _, v := range values {
		d, err := ParseDecimal(v)
		if err != nil {
			return nil, err
		}
		if total, err = add(total, d); err != nil {
			return nil, err
		}
	}
	return total, nil
}

// PythonFloatText is the text Python's str(float) gives for f, which is
// what the reference node writes to a NUMERIC column when a JSON number
// was a float: "1000.0", "0.0001", "1e-05", "1e+16".
func PythonFloatText(f float64) string {
	if f == 0 {
		if math.Signbit(f) {
			return "-0.0"
		}
		return "0.0"
	}
	abs := math.Abs(f)
	if abs >= 1e16 || abs < 1e-4 {
		s := strconv.FormatFloat(f, 'e', -1, 64) // 1e+16, 1.5e-05
		return s
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	for _, c := range s {
		if c == '.' {
			return s
		}
	}
	return s + ".0"
}

// NumericText is the text PostgreSQL's NUMERIC keeps for a decimal
// literal: plain notation, the literal's scale, never an exponent
// ("1e+16" is 10000000000000000, "1.5e-05" is 0.000015).
func NumericText(s string) (string, error) {
	d, err := ParseDecimal(s)
	if err != nil {
		return "", err
	}
	if d.Exponent > 0 {
		if _, err := arith.Quantize(d, d, 0); err != nil {
			return "", fmt.Errorf("cost: %q: %w", s, err)
		}
	}
	if d.IsZero() {
		d.Negative = false
	}
	return d.Text('f'), nil
}

// Add returns a+b in the reference context (28 digits, half even).
func Add(a, b *Decimal) (*Decimal, error) { return add(a, b) }

// Mul returns a·b in the reference context (28 digits, half even).
func Mul(a, b *Decimal) (*Decimal, error) { return mul(a, b) }

// Sub returns a−b in the reference context (28 digits, half even).
func Sub(a, b *Decimal) (*Decimal, error) { return add(a, neg(b)) }
