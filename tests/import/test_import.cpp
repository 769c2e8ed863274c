#include <catch2/catch.hpp>
#include "egfuse/import.hpp"
TEST_CASE("placeholder") { CHECK(egfuse::supported_pt2_schema_majors().size() == 1); }
