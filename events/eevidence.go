package events

import "time"

// Time limits of Regulation (EU) 2023/1543, counted from the order's receipt (its delivery):
// an EPOC's data are due within 10 days, 8 hours in an emergency (Art. 10(2), 10(4)); an
// EPOC-PR's data are preserved for 60 days, which the issuing authority may extend once by 30
// (Art. 11(1)).
const (
	EPOCDeadline            = 10 * 24 * time.Hour
	EPOCEmergencyDeadline   = 8 * time.Hour
	PreservationPeriod      = 60 * 24 * time.Hour
	PreservationExtension30 = 30 * 24 * time.Hour
	// A US preservation (18 U.S.C. § 2703(f)(2)) lasts 90 days and is renewed once for 90 more.
	USPreservationPeriod = 90 * 24 * time.Hour
)

// EEvidenceData is a category of data of Regulation (EU) 2023/1543, Art. 3(9)-(12): the
// categories its statistics (Art. 28) and deadlines are kept by.
type EEvidenceData string

const (
	EEvidenceSubscriber     EEvidenceData = "subscriber"
	EEvidenceIdentification EEvidenceData = "identification" // requested for the sole purpose of identifying the user
	EEvidenceTraffic        EEvidenceData = "traffic"
	EEvidenceContent        EEvidenceData = "content"
)

// EEvidenceDataCategories lists every EEvidenceData.
var EEvidenceDataCategories = OneOf[EEvidenceData]{EEvidenceSubscriber, EEvidenceIdentification, EEvidenceTraffic, EEvidenceContent}

func (v EEvidenceData) Validate(field string) error {
	return EEvidenceDataCategories.validate(field, v)
}

// EEvidenceOrder is what a European Production or Preservation Order Certificate (EPOC,
// EPOC-PR) says beyond the request itself: the category of data it orders.
type EEvidenceOrder struct {
	DataCategory EEvidenceData `json:"data_category"`
}

// Validate checks the block; field is its JSON path ("eevidence").
func (o *EEvidenceOrder) Validate(field string) error {
	return o.DataCategory.Validate(field + ".data_category")
}

// RefusalGround is why an e-Evidence order was not executed: a ground for refusal the
// enforcing authority raised (Regulation (EU) 2023/1543, Art. 12(1)), or an impossibility the
// addressee reported (Art. 10(5)-(7), 11(4)-(5)) or a conflict with a third country's law
// (Art. 17).
type RefusalGround string

const (
	RefusalImmunity          RefusalGround = "immunity_or_privilege"         // Art. 12(1)(a)
	RefusalFundamentalRights RefusalGround = "fundamental_rights"            // Art. 12(1)(b)
	RefusalNeBisInIdem       RefusalGround = "ne_bis_in_idem"                // Art. 12(1)(c)
	RefusalNoDualCriminality RefusalGround = "no_dual_criminality"           // Art. 12(1)(d)
	RefusalIncomplete        RefusalGround = "incomplete_or_manifest_error"  // Art. 10(5), 11(4)
	RefusalDeFactoImpossible RefusalGround = "de_facto_impossibility"        // Art. 10(7), 11(5): e.g. the data are not held
	RefusalThirdCountryLaw   RefusalGround = "conflicting_third_country_law" // Art. 17
)

// RefusalGrounds lists every RefusalGround, in the order reports show them.
var RefusalGrounds = OneOf[RefusalGround]{
	RefusalImmunity, RefusalFundamentalRights, RefusalNeBisInIdem, RefusalNoDualCriminality,
	RefusalIncomplete, RefusalDeFactoImpossible, RefusalThirdCountryLaw,
}

func (v RefusalGround) Validate(field string) error { return RefusalGrounds.validate(field, v) }

// PreservationExtension is how an EPOC-PR's preservation outlives its 60 days (Regulation
// (EU) 2023/1543, Art. 11(1)): the issuing authority extended it by 30 days (Annex VI), or
// confirmed that a subsequent request for production was issued, after which the data are
// kept until that request is dealt with.
type PreservationExtension string

const (
	ExtendedBy30Days    PreservationExtension = "extended_30_days"
	ProductionRequested PreservationExtension = "production_requested"
	// Renewed90Days: a US preservation (18 U.S.C. § 2703(f)) renewed by the authority for
	// another 90 days, once.
	Renewed90Days PreservationExtension = "renewed_90_days"
)

// PreservationExtensions lists every PreservationExtension.
var PreservationExtensions = OneOf[PreservationExtension]{ExtendedBy30Days, ProductionRequested, Renewed90Days}

func (v PreservationExtension) Validate(field string) error {
	return PreservationExtensions.validate(field, v)
}

// EUMemberStates are the Member States whose authorities issue DSA and e-Evidence orders,
// by ISO 3166-1 alpha-2 code.
var EUMemberStates = OneOf[Country]{
	"AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE", "IT",
	"LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK",
}

// IsEUMemberState reports whether c is a Member State of the European Union.
func (c Country) IsEUMemberState() bool {
	for _, m := range EUMemberStates {
		if m == c {
			return true
		}
	}
	return false
}

// Eurostat is the code Eurostat's glossary gives a Member State, which the DSA templates
// require: the ISO code but for Greece (EL).
func (c Country) Eurostat() string {
	if c == "GR" {
		return "EL"
	}
	return string(c)
}
