#pragma once

// Small text helpers shared by the readers and the config validators.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hare {

std::string_view trim(std::string_view text);
std::vector<std::string_view> split(std::string_view text, char delimiter);
// Splits on runs of spaces and tabs; leading/trailing blanks yield no fields.
std::vector<std::string_view> split_whitespace(std::string_view text);
std::string join(const std::vector<std::string>& parts, std::string_view separator);
// A tensor shape for messages: "[1, 6, 128]".
std::string shape_text(const std::vector<int64_t>& shape);
std::string to_lower(std::string_view text);
bool ends_with(std::string_view text, std::string_view suffix);

// Strict number parsing: the whole field must be a number (no trailing junk).
std::optional<double> parse_double(std::string_view text);
std::optional<long long> parse_int(std::string_view text);

// Levenshtein distance, for "did you mean ...?".
size_t edit_distance(std::string_view a, std::string_view b);
// The closest candidate within a distance proportional to the word's length,
// or nothing when no candidate is plausibly what was meant.
std::optional<std::string> closest_match(std::string_view word,
                                         const std::vector<std::string>& candidates);
// " (did you mean 'x'?)" or "".
std::string did_you_mean(std::string_view word, const std::vector<std::string>& candidates);

// Parses lists like "1-6", "1,3,5", "07,08" into integers.
std::optional<std::vector<int>> parse_int_list(std::string_view text);

// The current time as ISO 8601 UTC, "2026-11-26T08:08:47Z" (cards, profiles).
std::string utc_now_iso8601();

}  // namespace hare
