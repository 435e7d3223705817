# Every third-party dependency, found once. All come from Debian packages (scripts/setup).
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
find_package(nlohmann_json 3 CONFIG REQUIRED)
find_package(CLI11 CONFIG REQUIRED)
find_package(Boost 1.74 CONFIG REQUIRED COMPONENTS unit_test_framework)
# Image decoding and colour conversion (model/image).
find_package(OpenCV REQUIRED COMPONENTS core imgproc imgcodecs)
# Tokenizer (model/tokenizer): PCRE2 for the pre-tokenizer regex, utf8proc for NFC, SentencePiece.
pkg_check_modules(PCRE2 REQUIRED IMPORTED_TARGET libpcre2-8)
pkg_check_modules(UTF8PROC REQUIRED IMPORTED_TARGET libutf8proc)
pkg_check_modules(SENTENCEPIECE REQUIRED IMPORTED_TARGET sentencepiece)
