package events

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
