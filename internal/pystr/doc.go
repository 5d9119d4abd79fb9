// Package pystr restates the Python str methods whose Unicode behaviour the reference's text handling
// depends on — str.lower, str.capitalize, str.split, str.strip and str.rstrip, str.isupper of one
// character — so that wcos splits, compares and filters text as the reference's Python did, not as Go's
// strings package would (Go lower-cases İ to i, knows no final sigma, title-cases ß as ß, and does not
// count \x1c–\x1f as white space). Checked against CPython's own results (testdata/golden.py).
//
// Not restated: Python's Unicode version (CPython's tables may differ from Go's for recent characters)
// and the case-ignorable characters around a final sigma beyond the common ones (see isCaseIgnorable).
package pystr
