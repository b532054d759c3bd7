package events

import "slices"

// DSACategory is a category of illegal content of the taxonomy of Implementing Regulation
// (EU) 2024/2835, Annex I, Part 2 ("STATEMENT_CATEGORY_ANIMAL_WELFARE").
type DSACategory string

// DSAKeyword is a sub-category of a DSACategory ("KEYWORD_ANIMAL_HARM"). KEYWORD_OTHER
// belongs to every category but STATEMENT_CATEGORY_NOT_SPECIFIED_ORDER.
type DSAKeyword string

const (
	// DSANotSpecified is for an order that gives no legal ground at all (Annex II, column D).
	DSANotSpecified DSACategory = "STATEMENT_CATEGORY_NOT_SPECIFIED_ORDER"
	DSAKeywordOther DSAKeyword  = "KEYWORD_OTHER"
)

// DSATaxonomyEntry is a category and its keywords, in the order of the official template.
type DSATaxonomyEntry struct {
	Category DSACategory
	Keywords []DSAKeyword
}

// dsaTaxonomy is the closed set of categories and keywords an order of a Member State may
// be filed under: Part 3 of the template lists these rows in this order. A test checks it
// against the taxonomy file (Part 2) and the projections' copy of the template.
var dsaTaxonomy = []DSATaxonomyEntry{
	{"STATEMENT_CATEGORY_ANIMAL_WELFARE", []DSAKeyword{"KEYWORD_ANIMAL_HARM", "KEYWORD_UNLAWFUL_SALE_ANIMALS", "KEYWORD_OTHER"}},
	{"STATEMENT_CATEGORY_CONSUMER_INFORMATION", []DSAKeyword{"KEYWORD_HIDDEN_ADVERTISEMENT", "KEYWORD_INSUFFICIENT_INFORMATION_ON_TRADERS", "KEYWORD_MISLEADING_INFO_GOODS_SERVICES", "KEYWORD_MISLEADING_INFO_CONSUMER_RIGHTS", "KEYWORD_NONCOMPLIANCE_PRICING", "KEYWORD_OTHER"}},
	{"STATEMENT_CATEGORY_CYBER_VIOLENCE", []DSAKeyword{"KEYWORD_CYBER_BULLYING_INTIMIDATION", "KEYWORD_CYBER_HARASSMENT", "KEYWORD_CYBER_INCITEMENT", "KEYWORD_CYBER_STALKING", "KEYWORD_NON_CONSENSUAL_IMAGE_SHARING", "KEYWORD_NON_CONSENSUAL_MATERIAL_DEEPFAKE", "KEYWORD_OTHER"}},
	{"STATEMENT_CATEGORY_CYBER_VIOLENCE_AGAINST_WOMEN", []DSAKeyword{"KEYWORD_BULLYING_AGAINST_GIRLS", "KEYWORD_CYBER_HARASSMENT_AGAINST_WOMEN", "KEYWORD_CYBER_STALKING_AGAINST_WOMEN", "KEYWORD_FEMALE_GENDERED_DISINFORMATION", "KEYWORD_INCITEMENT_AGAINST_WOMEN", "KEYWORD_NON_CONSENSUAL_IMAGE_SHARING_AGAINST_WOMEN", "KEYWORD_NON_CONSENSUAL_MATERIAL_DEEPFAKE_AGAINST_WOMEN", "KEYWORD_OTHER"}},
	{"STATEMENT_CATEGORY_DATA_PROTECTION_AND_PRIVACY_VIOLATIONS", []DSAKeyword{"KEYWORD_BIOMETRIC_DATA_BREACH", "KEYWORD_DATA_FALSIFICATION", "KEYWORD_MISSING_PROCESSING_GROUND", "KEYWORD_RIGHT_TO_BE_FORGOTTEN", "KEYWORD_OTHER"}},
	{"STATEMENT_CATEGORY_ILLEGAL_OR_HARMFUL_SPEECH", []DSAKeyword{"KEYWORD_DEFAMATION", "KEYWORD_DISCRIMINATION", "KEYWORD_HATE_SPEECH", "KEYWORD_OTHER"}},
	{"STATEMENT_CATEGORY_INTELLECTUAL_PROPERTY_INFRINGEMENTS", []DSAKeyword{"KEYWORD_COPYRIGHT_INFRINGEMENT", "KEYWORD_DESIGN_INFRINGEMENT", "KEYWORD_GEOGRAPHIC_INDICATIONS_INFRINGEMENT", "KEYWORD_PATENT_INFRINGEMENT", "KEYWORD_TRADE_SECRET_INFRINGEMENT", "KEYWORD_TRADEMARK_INFRINGEMENT", "KEYWORD_OTHER"}},
	{"STATEMENT_CATEGORY_NEGATIVE_EFFECTS_ON_CIVIC_DISCOURSE_OR_ELECTIONS", []DSAKeyword{"KEYWORD_MISINFORMATION_DISINFORMATION", "KEYWORD_VIOLATION_EU_LAW", "KEYWORD_VIOLATION_NATIONAL_LAW", "KEYWORD_OTHER"}},
	{"STATEMENT_CATEGORY_PROTECTION_OF_MINORS", []DSAKeyword{"KEYWORD_AGE_SPECIFIC_RESTRICTIONS_MINORS", "KEYWORD_CHILD_SEXUAL_ABUSE_MATERIAL", "KEYWORD_CHILD_SEXUAL_ABUSE_MATERIAL_DEEPFAKE", "KEYWORD_GROOMING_SEXUAL_ENTICEMENT_MINORS", "KEYWORD_UNSAFE_CHALLENGES", "KEYWORD_OTHER"}},
	{"STATEMENT_CATEGORY_RISK_FOR_PUBLIC_SECURITY", []DSAKeyword{"KEYWORD_ILLEGAL_ORGANIZATIONS", "KEYWORD_RISK_ENVIRONMENTAL_DAMAGE", "KEYWORD_RISK_PUBLIC_HEALTH", "KEYWORD_TERRORIST_CONTENT", "KEYWORD_OTHER"}},
	{"STATEMENT_CATEGORY_SCAMS_AND_FRAUD", []DSAKeyword{"KEYWORD_IMPERSONATION_ACCOUNT_HIJACKING", "KEYWORD_INAUTHENTIC_ACCOUNTS", "KEYWORD_INAUTHENTIC_LISTINGS", "KEYWORD_INAUTHENTIC_USER_REVIEWS", "KEYWORD_PHISHING", "KEYWORD_PYRAMID_SCHEMES", "KEYWORD_OTHER"}},
	{"STATEMENT_CATEGORY_SELF_HARM", []DSAKeyword{"KEYWORD_CONTENT_PROMOTING_EATING_DISORDERS", "KEYWORD_SELF_MUTILATION", "KEYWORD_SUICIDE", "KEYWORD_OTHER"}},
	{"STATEMENT_CATEGORY_UNSAFE_AND_PROHIBITED_PRODUCTS", []DSAKeyword{"KEYWORD_PROHIBITED_PRODUCTS", "KEYWORD_UNSAFE_PRODUCTS", "KEYWORD_OTHER"}},
	{"STATEMENT_CATEGORY_VIOLENCE", []DSAKeyword{"KEYWORD_COORDINATED_HARM", "KEYWORD_INCITEMENT_VIOLENCE_HATRED", "KEYWORD_HUMAN_EXPLOITATION", "KEYWORD_HUMAN_TRAFFICKING", "KEYWORD_TRAFFICKING_WOMEN_GIRLS", "KEYWORD_OTHER"}},
	{DSANotSpecified, nil},
}

// DSATaxonomy returns the categories and their keywords in the template's order.
func DSATaxonomy() []DSATaxonomyEntry {
	out := make([]DSATaxonomyEntry, len(dsaTaxonomy))
	for i, e := range dsaTaxonomy {
		out[i] = DSATaxonomyEntry{e.Category, slices.Clone(e.Keywords)}
	}
	return out
}

// DSAOrder is what an order of a Member State under the DSA (Art. 9 or 10) says about the
// content concerned: its category of illegality and, optionally, a keyword of that category,
// how many specific items of information it lists, and, for KEYWORD_OTHER, a description.
type DSAOrder struct {
	Category         DSACategory `json:"category"`
	Keyword          DSAKeyword  `json:"keyword,omitempty"`
	OtherDescription string      `json:"other_description,omitempty"`
	Items            int         `json:"items"`
}

// Validate checks the block; field is its JSON path ("dsa").
func (o *DSAOrder) Validate(field string) error {
	i := slices.IndexFunc(dsaTaxonomy, func(e DSATaxonomyEntry) bool { return e.Category == o.Category })
	if i < 0 {
		return Invalid(field+".category", "%s is not a category of Implementing Regulation (EU) 2024/2835", Quote(string(o.Category)))
	}
	switch {
	case o.Keyword != "" && !slices.Contains(dsaTaxonomy[i].Keywords, o.Keyword):
		return Invalid(field+".keyword", "%s is not a keyword of %s", Quote(string(o.Keyword)), o.Category)
	case o.Keyword == DSAKeywordOther && o.OtherDescription == "":
		return Invalid(field+".other_description", "is required with %s", DSAKeywordOther)
	case o.Keyword != DSAKeywordOther && o.OtherDescription != "":
		return Invalid(field+".other_description", "goes only with %s", DSAKeywordOther)
	case o.Items < 1:
		return Invalid(field+".items", "must be at least 1 (the specific items of information the order lists)")
	}
	// The limit of dsa.other_description, also for a corrected dsa block.
	l, _ := LimitOf("dsa.other_description")
	return l.Check(field+".other_description", o.OtherDescription)
}

// ValidateNew is Validate for a block being recorded: the other description, which reports
// print in the clear, must also hold no personal data. (Recorded blocks are read with
// Validate alone, so that a history written before this rule still reads.)
func (o *DSAOrder) ValidateNew(field string) error {
	if err := o.Validate(field); err != nil {
		return err
	}
	return CheckNoPersonalData(field+".other_description", o.OtherDescription)
}
