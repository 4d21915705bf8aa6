package compat

// The JSON Schema difference kinds. The names are Confluent Schema
// Registry's (io.confluent.kafka.schemaregistry.json.diff.Difference.Type),
// because users search for them and the acceptance cases quote them
// (spec/registry-api.md §11.3–§11.6). A difference is a fact about the change
// from the original (writer) schema to the update (reader); whether it
// breaks compatibility is decided separately, by the policy's compatible set.
const (
	jsonIDChanged          = "ID_CHANGED"
	jsonDescriptionChanged = "DESCRIPTION_CHANGED"
	jsonTitleChanged       = "TITLE_CHANGED"
	jsonDefaultChanged     = "DEFAULT_CHANGED"
	jsonSchemaAdded        = "SCHEMA_ADDED"
	jsonSchemaRemoved      = "SCHEMA_REMOVED"
	jsonTypeExtended       = "TYPE_EXTENDED"
	jsonTypeNarrowed       = "TYPE_NARROWED"
	jsonTypeChanged        = "TYPE_CHANGED"

	jsonMaxLengthAdded     = "MAX_LENGTH_ADDED"
	jsonMaxLengthRemoved   = "MAX_LENGTH_REMOVED"
	jsonMaxLengthIncreased = "MAX_LENGTH_INCREASED"
	jsonMaxLengthDecreased = "MAX_LENGTH_DECREASED"
	jsonMinLengthAdded     = "MIN_LENGTH_ADDED"
	jsonMinLengthRemoved   = "MIN_LENGTH_REMOVED"
	jsonMinLengthIncreased = "MIN_LENGTH_INCREASED"
	jsonMinLengthDecreased = "MIN_LENGTH_DECREASED"
	jsonPatternAdded       = "PATTERN_ADDED"
	jsonPatternRemoved     = "PATTERN_REMOVED"
	jsonPatternChanged     = "PATTERN_CHANGED"

	jsonMaximumAdded              = "MAXIMUM_ADDED"
	jsonMaximumRemoved            = "MAXIMUM_REMOVED"
	jsonMaximumIncreased          = "MAXIMUM_INCREASED"
	jsonMaximumDecreased          = "MAXIMUM_DECREASED"
	jsonMinimumAdded              = "MINIMUM_ADDED"
	jsonMinimumRemoved            = "MINIMUM_REMOVED"
	jsonMinimumIncreased          = "MINIMUM_INCREASED"
	jsonMinimumDecreased          = "MINIMUM_DECREASED"
	jsonExclusiveMaximumAdded     = "EXCLUSIVE_MAXIMUM_ADDED"
	jsonExclusiveMaximumRemoved   = "EXCLUSIVE_MAXIMUM_REMOVED"
	jsonExclusiveMaximumIncreased = "EXCLUSIVE_MAXIMUM_INCREASED"
	jsonExclusiveMaximumDecreased = "EXCLUSIVE_MAXIMUM_DECREASED"
	jsonExclusiveMinimumAdded     = "EXCLUSIVE_MINIMUM_ADDED"
	jsonExclusiveMinimumRemoved   = "EXCLUSIVE_MINIMUM_REMOVED"
	jsonExclusiveMinimumIncreased = "EXCLUSIVE_MINIMUM_INCREASED"
	jsonExclusiveMinimumDecreased = "EXCLUSIVE_MINIMUM_DECREASED"
	jsonMultipleOfAdded           = "MULTIPLE_OF_ADDED"
	jsonMultipleOfRemoved         = "MULTIPLE_OF_REMOVED"
	jsonMultipleOfExpanded        = "MULTIPLE_OF_EXPANDED"
	jsonMultipleOfReduced         = "MULTIPLE_OF_REDUCED"
	jsonMultipleOfChanged         = "MULTIPLE_OF_CHANGED"

	jsonRequiredAttributeAdded            = "REQUIRED_ATTRIBUTE_ADDED"
	jsonRequiredAttributeWithDefaultAdded = "REQUIRED_ATTRIBUTE_WITH_DEFAULT_ADDED"
	jsonRequiredAttributeRemoved          = "REQUIRED_ATTRIBUTE_REMOVED"
	jsonMaxPropertiesAdded                = "MAX_PROPERTIES_ADDED"
	jsonMaxPropertiesRemoved              = "MAX_PROPERTIES_REMOVED"
	jsonMaxPropertiesIncreased            = "MAX_PROPERTIES_INCREASED"
	jsonMaxPropertiesDecreased            = "MAX_PROPERTIES_DECREASED"
	jsonMinPropertiesAdded                = "MIN_PROPERTIES_ADDED"
	jsonMinPropertiesRemoved              = "MIN_PROPERTIES_REMOVED"
	jsonMinPropertiesIncreased            = "MIN_PROPERTIES_INCREASED"
	jsonMinPropertiesDecreased            = "MIN_PROPERTIES_DECREASED"
	jsonAdditionalPropertiesAdded         = "ADDITIONAL_PROPERTIES_ADDED"
	jsonAdditionalPropertiesRemoved       = "ADDITIONAL_PROPERTIES_REMOVED"
	jsonAdditionalPropertiesExtended      = "ADDITIONAL_PROPERTIES_EXTENDED"
	jsonAdditionalPropertiesNarrowed      = "ADDITIONAL_PROPERTIES_NARROWED"
	jsonUnevaluatedPropertiesAdded        = "UNEVALUATED_PROPERTIES_ADDED"
	jsonUnevaluatedPropertiesRemoved      = "UNEVALUATED_PROPERTIES_REMOVED"
	jsonUnevaluatedPropertiesExtended     = "UNEVALUATED_PROPERTIES_EXTENDED"
	jsonUnevaluatedPropertiesNarrowed     = "UNEVALUATED_PROPERTIES_NARROWED"
	jsonDependencyArrayAdded              = "DEPENDENCY_ARRAY_ADDED"
	jsonDependencyArrayRemoved            = "DEPENDENCY_ARRAY_REMOVED"
	jsonDependencyArrayExtended           = "DEPENDENCY_ARRAY_EXTENDED"
	jsonDependencyArrayNarrowed           = "DEPENDENCY_ARRAY_NARROWED"
	jsonDependencyArrayChanged            = "DEPENDENCY_ARRAY_CHANGED"
	jsonDependencySchemaAdded             = "DEPENDENCY_SCHEMA_ADDED"
	jsonDependencySchemaRemoved           = "DEPENDENCY_SCHEMA_REMOVED"

	jsonPropertyWithEmptySchemaAddedToOpen       = "PROPERTY_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL"
	jsonOptionalPropertyAddedToOpen              = "OPTIONAL_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL"
	jsonRequiredPropertyAddedToOpen              = "REQUIRED_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL"
	jsonRequiredPropertyWithDefaultAddedToOpen   = "REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_OPEN_CONTENT_MODEL"
	jsonRequiredPropertyAddedToUnopen            = "REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL"
	jsonRequiredPropertyWithDefaultAddedToUnopen = "REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_UNOPEN_CONTENT_MODEL"
	jsonOptionalPropertyAddedToUnopen            = "OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL"
	jsonPropertyRemovedFromOpen                  = "PROPERTY_REMOVED_FROM_OPEN_CONTENT_MODEL"
	jsonPropertyWithFalseRemovedFromClosed       = "PROPERTY_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL"
	jsonPropertyRemovedFromClosed                = "PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL"
	jsonPropertyRemovedIsCoveredByPartiallyOpen  = "PROPERTY_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
	jsonPropertyRemovedNotCoveredByPartiallyOpen = "PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
	jsonPropertyAddedIsCoveredByPartiallyOpen    = "PROPERTY_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
	jsonPropertyAddedNotCoveredByPartiallyOpen   = "PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
	jsonMaxItemsAdded                            = "MAX_ITEMS_ADDED"
	jsonMaxItemsRemoved                          = "MAX_ITEMS_REMOVED"
	jsonMaxItemsIncreased                        = "MAX_ITEMS_INCREASED"
	jsonMaxItemsDecreased                        = "MAX_ITEMS_DECREASED"
	jsonMinItemsAdded                            = "MIN_ITEMS_ADDED"
	jsonMinItemsRemoved                          = "MIN_ITEMS_REMOVED"
	jsonMinItemsIncreased                        = "MIN_ITEMS_INCREASED"
	jsonMinItemsDecreased                        = "MIN_ITEMS_DECREASED"
	jsonMaxContainsAdded                         = "MAX_CONTAINS_ADDED"
	jsonMaxContainsRemoved                       = "MAX_CONTAINS_REMOVED"
	jsonMaxContainsIncreased                     = "MAX_CONTAINS_INCREASED"
	jsonMaxContainsDecreased                     = "MAX_CONTAINS_DECREASED"
	jsonMinContainsAdded                         = "MIN_CONTAINS_ADDED"
	jsonMinContainsRemoved                       = "MIN_CONTAINS_REMOVED"
	jsonMinContainsIncreased                     = "MIN_CONTAINS_INCREASED"
	jsonMinContainsDecreased                     = "MIN_CONTAINS_DECREASED"
	jsonUniqueItemsAdded                         = "UNIQUE_ITEMS_ADDED"
	jsonUniqueItemsRemoved                       = "UNIQUE_ITEMS_REMOVED"
	jsonAdditionalItemsAdded                     = "ADDITIONAL_ITEMS_ADDED"
	jsonAdditionalItemsRemoved                   = "ADDITIONAL_ITEMS_REMOVED"
	jsonAdditionalItemsExtended                  = "ADDITIONAL_ITEMS_EXTENDED"
	jsonAdditionalItemsNarrowed                  = "ADDITIONAL_ITEMS_NARROWED"
	jsonUnevaluatedItemsAdded                    = "UNEVALUATED_ITEMS_ADDED"
	jsonUnevaluatedItemsRemoved                  = "UNEVALUATED_ITEMS_REMOVED"
	jsonUnevaluatedItemsExtended                 = "UNEVALUATED_ITEMS_EXTENDED"
	jsonUnevaluatedItemsNarrowed                 = "UNEVALUATED_ITEMS_NARROWED"
	jsonItemAddedToOpen                          = "ITEM_ADDED_TO_OPEN_CONTENT_MODEL"
	jsonItemWithEmptySchemaAddedToOpen           = "ITEM_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL"
	jsonItemAddedToClosed                        = "ITEM_ADDED_TO_CLOSED_CONTENT_MODEL"
	jsonItemRemovedFromOpen                      = "ITEM_REMOVED_FROM_OPEN_CONTENT_MODEL"
	jsonItemWithFalseRemovedFromClosed           = "ITEM_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL"
	jsonItemRemovedFromClosed                    = "ITEM_REMOVED_FROM_CLOSED_CONTENT_MODEL"
	jsonItemRemovedIsCoveredByPartiallyOpen      = "ITEM_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
	jsonItemRemovedNotCoveredByPartiallyOpen     = "ITEM_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
	jsonItemAddedIsCoveredByPartiallyOpen        = "ITEM_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
	jsonItemAddedNotCoveredByPartiallyOpen       = "ITEM_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
	jsonEnumArrayExtended                        = "ENUM_ARRAY_EXTENDED"
	jsonEnumArrayNarrowed                        = "ENUM_ARRAY_NARROWED"
	jsonEnumArrayChanged                         = "ENUM_ARRAY_CHANGED"
	jsonCombinedTypeExtended                     = "COMBINED_TYPE_EXTENDED"
	jsonCombinedTypeChanged                      = "COMBINED_TYPE_CHANGED"
	jsonProductTypeExtended                      = "PRODUCT_TYPE_EXTENDED"
	jsonProductTypeNarrowed                      = "PRODUCT_TYPE_NARROWED"
	jsonSumTypeExtended                          = "SUM_TYPE_EXTENDED"
	jsonSumTypeNarrowed                          = "SUM_TYPE_NARROWED"
	jsonCombinedTypeSubschemasChanged            = "COMBINED_TYPE_SUBSCHEMAS_CHANGED"
	jsonNotTypeExtended                          = "NOT_TYPE_EXTENDED"
	jsonNotTypeNarrowed                          = "NOT_TYPE_NARROWED"
)

// jsonStrictCompatible is the compatible set of the STRICT policy
// (spec §11.4, Confluent's SchemaDiff.COMPATIBLE_CHANGES plus the 8.x
// contains and unevaluated* kinds). Every other kind is a violation.
var jsonStrictCompatible = jsonKindSet(
	jsonIDChanged, jsonDescriptionChanged, jsonTitleChanged, jsonDefaultChanged,
	jsonSchemaRemoved, jsonTypeExtended,
	jsonMaxLengthIncreased, jsonMaxLengthRemoved, jsonMinLengthDecreased, jsonMinLengthRemoved,
	jsonPatternRemoved,
	jsonMaximumIncreased, jsonMaximumRemoved, jsonMinimumDecreased, jsonMinimumRemoved,
	jsonExclusiveMaximumIncreased, jsonExclusiveMaximumRemoved,
	jsonExclusiveMinimumDecreased, jsonExclusiveMinimumRemoved,
	jsonMultipleOfReduced, jsonMultipleOfRemoved,
	jsonRequiredAttributeWithDefaultAdded, jsonRequiredAttributeRemoved,
	jsonDependencyArrayNarrowed, jsonDependencyArrayRemoved, jsonDependencySchemaRemoved,
	jsonMaxPropertiesIncreased, jsonMaxPropertiesRemoved, jsonMinPropertiesDecreased, jsonMinPropertiesRemoved,
	jsonAdditionalPropertiesAdded, jsonAdditionalPropertiesExtended,
	jsonUnevaluatedPropertiesAdded, jsonUnevaluatedPropertiesExtended,
	jsonPropertyWithEmptySchemaAddedToOpen, jsonRequiredPropertyWithDefaultAddedToUnopen,
	jsonOptionalPropertyAddedToUnopen, jsonPropertyWithFalseRemovedFromClosed,
	jsonPropertyRemovedFromOpen, jsonPropertyAddedIsCoveredByPartiallyOpen,
	jsonPropertyRemovedIsCoveredByPartiallyOpen,
	jsonMaxItemsIncreased, jsonMaxItemsRemoved, jsonMinItemsDecreased, jsonMinItemsRemoved,
	jsonMaxContainsIncreased, jsonMaxContainsRemoved, jsonMinContainsDecreased, jsonMinContainsRemoved,
	jsonUniqueItemsRemoved, jsonAdditionalItemsAdded, jsonAdditionalItemsExtended,
	jsonUnevaluatedItemsAdded, jsonUnevaluatedItemsExtended,
	jsonItemWithEmptySchemaAddedToOpen, jsonItemAddedToClosed, jsonItemWithFalseRemovedFromClosed,
	jsonItemRemovedFromOpen, jsonItemAddedIsCoveredByPartiallyOpen, jsonItemRemovedIsCoveredByPartiallyOpen,
	jsonEnumArrayExtended,
	jsonCombinedTypeExtended, jsonProductTypeNarrowed, jsonSumTypeExtended, jsonNotTypeNarrowed,
)

// jsonLenientExtra is what the LENIENT policy accepts on top of STRICT
// (spec §11.6): the Avro-like "add or remove optional properties freely".
var jsonLenientExtra = []string{
	jsonAdditionalPropertiesNarrowed, jsonAdditionalPropertiesRemoved,
	jsonUnevaluatedPropertiesNarrowed, jsonUnevaluatedPropertiesRemoved,
	jsonRequiredPropertyWithDefaultAddedToOpen, jsonOptionalPropertyAddedToOpen,
	jsonPropertyRemovedFromClosed,
	jsonPropertyAddedNotCoveredByPartiallyOpen, jsonPropertyRemovedNotCoveredByPartiallyOpen,
}

// jsonLenientCompatible is the compatible set of the LENIENT policy.
var jsonLenientCompatible = func() map[string]bool {
	m := make(map[string]bool, len(jsonStrictCompatible)+len(jsonLenientExtra))
	for k := range jsonStrictCompatible {
		m[k] = true
	}
	for _, k := range jsonLenientExtra {
		m[k] = true
	}
	return m
}()

func jsonKindSet(kinds ...string) map[string]bool {
	m := make(map[string]bool, len(kinds))
	for _, k := range kinds {
		m[k] = true
	}
	return m
}
