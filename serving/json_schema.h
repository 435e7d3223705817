// JSON Schema to a byte grammar (grammar.h) of the JSON texts it allows, for structured outputs
// (OpenAI's response_format json_schema; json_object is the schema {"type": "object"}).
//
// Supported: type (object, array, string, number, integer, boolean, null, or a list of them),
// properties (written in the given order), required (the others may be left out),
// additionalProperties (false; true or absent with properties: only the listed ones are
// written; a schema without properties: a map of such values), enum, const, items,
// minItems/maxItems (at most 64 apart when both are given), format (of a string: date, time,
// date-time, uuid), $ref to "#/$defs/NAME" or
// "#/definitions/NAME" (not recursive), anyOf and oneOf (as alternatives; oneOf's exclusivity is
// not enforced), and the annotations title, description, default, examples, $schema, $id,
// $comment. Anything else (other formats, pattern, minLength, maximum, prefixItems, allOf...) is
// refused with a SchemaError naming it.
//
// The texts have at most kJsonWhitespace whitespace bytes (space, tab, newline) in each place
// JSON allows them and none after the value, numbers have at most 16 digits before and after
// the point and 2 in the exponent (so every number is a finite double), and containers nest at
// most kJsonMaxDepth deep, so a model cannot loop inside a value forever except in a string
// (max_tokens bounds that).
#pragma once

#include <memory>
#include <stdexcept>
#include <string_view>

#include "serving/grammar.h"

namespace pio {

constexpr int kJsonWhitespace = 8;
constexpr int kJsonMaxDepth = 16;

// A schema pio cannot constrain decoding to; the message names the keyword and where it is.
struct SchemaError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

// The grammar of `prefix`, then a JSON text the schema (JSON text) allows as above, then
// `suffix` (no whitespace around those two). Throws SchemaError, for text that does not parse too.
std::shared_ptr<const Grammar> compile_json_schema(std::string_view schema_text, std::string_view prefix = {},
                                                   std::string_view suffix = {});

}  // namespace pio
