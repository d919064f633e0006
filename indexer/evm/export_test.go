package evm

// MedianTip exports medianTip to the tests.
var MedianTip = medianTip
