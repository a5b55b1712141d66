// JSON conversion of ModelSpec for modules that already use nlohmann/json (plan files, HF import).
#pragma once
#include "core/json_reader.hpp"
#include "core/model_spec.hpp"

namespace shardplan {

ModelSpec model_spec_from_json(const JsonObject& obj);
Json model_spec_to_json(const ModelSpec& spec);
// Checks cross-field rules (divisibility, positivity); `obj` locates the error.
void validate_model_spec(const ModelSpec& spec, const std::string& file, const std::string& path);

}  // namespace shardplan
