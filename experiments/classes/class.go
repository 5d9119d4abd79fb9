package classes

import (
	"fmt"
	"image/color"
)

// Class is an RW class. The order is the paper's table order (spec §2.3, §8.1), so a [NumClasses]
// array indexed by Class prints like the paper's tables.
type Class uint8

const (
	Strengthening Class = iota
	AtypicalStrengthening
	ConditionalStrengthening
	AtypicalConditionalStrengthening
	ProportionalChange
	AtypicalProportionalChange
	OrthogonalOutput
	Weakening
	AtypicalWeakening
	ConditionalWeakening
	AtypicalConditionalWeakening
	NumClasses
)

// Key is the reference code's category key (approx(linout), |approx(gateout)|, typical).
type Key struct{ A, G, T int8 }

var classInfo = [NumClasses]struct {
	name, abbrev string
	key          Key
	rgb          uint32
}{
	{"strengthening", "S", Key{1, 1, 1}, 0xffff00},
	{"atypical strengthening", "aS", Key{1, 1, 0}, 0xffff80},
	{"conditional strengthening", "CS", Key{1, 0, 1}, 0x808000},
	{"atypical conditional strengthening", "aCS", Key{1, 0, 0}, 0xbfbf80},
	{"proportional change", "PC", Key{0, 1, 1}, 0x000000},
	{"atypical proportional change", "aPC", Key{0, 1, 0}, 0x808080},
	{"orthogonal output", "OO", Key{0, 0, 1}, 0xe5e5e5},
	{"weakening", "W", Key{-1, 1, 1}, 0x0000ff},
	{"atypical weakening", "aW", Key{-1, 1, 0}, 0x8080ff},
	{"conditional weakening", "CW", Key{-1, 0, 1}, 0x008080},
	{"atypical conditional weakening", "aCW", Key{-1, 0, 0}, 0x80bfbf},
}

// AllClasses lists the 11 gated classes in table order.
func AllClasses() []Class {
	cs := make([]Class, NumClasses)
	for i := range cs {
		cs[i] = Class(i)
	}
	return cs
}

// VanillaClasses are the 3 classes of a non-gated MLP (key approx(linout), spec §1.4).
func VanillaClasses() []Class { return []Class{Strengthening, OrthogonalOutput, Weakening} }

// String is the reference code's class name, e.g. "conditional weakening".
func (c Class) String() string {
	if c >= NumClasses {
		return fmt.Sprintf("Class(%d)", uint8(c))
	}
	return classInfo[c].name
}

// Abbrev is the short name of spec §8.1 (S, aS, CS, …).
func (c Class) Abbrev() string {
	if c >= NumClasses {
		return "?"
	}
	return classInfo[c].abbrev
}

// Key returns the class's category key.
func (c Class) Key() Key { return classInfo[c].key }

// Color is the paper's colour for the class (atypical = the typical colour half-way to white;
// orthogonal output light grey so that the rare classes stand out).
func (c Class) Color() color.NRGBA {
	v := classInfo[c].rgb
	return color.NRGBA{R: uint8(v >> 16), G: uint8(v >> 8), B: uint8(v), A: 255}
}

// ParseClass accepts a class name or its abbreviation.
func ParseClass(s string) (Class, error) {
	for i, ci := range classInfo {
		if s == ci.name || s == ci.abbrev {
			return Class(i), nil
		}
	}
	return 0, fmt.Errorf("unknown RW class %q", s)
}

// ClassOfKey maps a key to its class; (0,0,0) cannot occur and reports false.
func ClassOfKey(k Key) (Class, bool) {
	for i, ci := range classInfo {
		if ci.key == k {
			return Class(i), true
		}
	}
	return 0, false
}

// Approx discretises a cosine: +1 above threshold, -1 below -threshold, 0 otherwise. Both
// inequalities are strict, so a value exactly at ±threshold counts as 0 (spec §2.2).
func Approx(x, threshold float64) int8 {
	switch {
	case x > threshold:
		return 1
	case x < -threshold:
		return -1
	}
	return 0
}

// KeyOf computes the category key (spec §2.3). It is invariant under refactoring: flipping the signs
// of gatelin and gateout together leaves A, |G| and the typicality test unchanged.
func KeyOf(gatelin, gateout, linout, threshold float64) Key {
	a := Approx(linout, threshold)
	g := Approx(gateout, threshold)
	var t int8
	if Approx(gatelin, threshold) == a*g || (a == 0 && g == 0) {
		t = 1
	}
	if g < 0 {
		g = -g
	}
	return Key{a, g, t}
}

// Classify returns the RW class of a gated neuron from its three cosines. NaN cosines (zero weight
// vectors) compare false everywhere and so land in orthogonal output, as in the reference code.
func Classify(gatelin, gateout, linout, threshold float64) Class {
	c, _ := ClassOfKey(KeyOf(gatelin, gateout, linout, threshold))
	return c
}

// ClassifyVanilla returns the class of a non-gated neuron from cos(w_in, w_out): strengthening,
// orthogonal output or weakening.
func ClassifyVanilla(linout, threshold float64) Class {
	switch Approx(linout, threshold) {
	case 1:
		return Strengthening
	case -1:
		return Weakening
	}
	return OrthogonalOutput
}
