package cost

import "errors"

// Errors of the cost model. A message whose cost cannot be computed (a
// pricing aggregate without the product it needs, an unknown GPU) fails
// like it does on the reference node, where these are exceptions: the
// pipeline retries it as an internal error.
var (
	// ErrInvalidNumber: a price or size is not a finite number.
	ErrInvalidNumber = errors.New("cost: invalid number")
	// ErrInvalidPricing: the pricing or settings aggregate does not have the
	// shape the model needs.
	ErrInvalidPricing = errors.New("cost: invalid pricing")
	// ErrNoProduct: the pricing aggregate has no entry for a product type.
	ErrNoProduct = errors.New("cost: product missing from pricing")
	// ErrUnknownGPU: a GPU's device id is not among the compatible GPUs, or
	// its model is in no GPU tier.
	ErrUnknownGPU = errors.New("cost: unknown GPU")
	// ErrUnsupportedContent: the content has no cost model.
	ErrUnsupportedContent = errors.New("cost: unsupported content")
)
