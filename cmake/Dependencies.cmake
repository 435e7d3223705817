# Every third-party dependency, found once. All come from Debian packages (scripts/setup).
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
find_package(nlohmann_json 3 CONFIG REQUIRED)
find_package(CLI11 CONFIG REQUIRED)
find_package(Boost 1.74 CONFIG REQUIRED COMPONENTS unit_test_framework)
# Image decoding (model/image): libjpeg, libpng, libwebp's demux and giflib per format, OpenCV
# for BMP and colour conversion.
find_package(OpenCV REQUIRED COMPONENTS core imgproc imgcodecs)
pkg_check_modules(LIBJPEG REQUIRED IMPORTED_TARGET libjpeg)
pkg_check_modules(LIBPNG REQUIRED IMPORTED_TARGET libpng)
pkg_check_modules(LIBWEBPDEMUX REQUIRED IMPORTED_TARGET libwebpdemux)
find_package(GIF 5 REQUIRED)  # giflib ships no .pc; CMake's FindGIF looks for gif_lib.h and libgif
# Tokenizer (model/tokenizer): PCRE2 for the pre-tokenizer regex, utf8proc for NFC, SentencePiece.
pkg_check_modules(PCRE2 REQUIRED IMPORTED_TARGET libpcre2-8)
pkg_check_modules(UTF8PROC REQUIRED IMPORTED_TARGET libutf8proc)
pkg_check_modules(SENTENCEPIECE REQUIRED IMPORTED_TARGET sentencepiece)
# The actor runtime (messages/, actors/, apps/pio-node): CAF 0.17 ships no CMake config or .pc.
find_path(CAF_INCLUDE_DIR caf/all.hpp REQUIRED)
find_library(CAF_CORE_LIBRARY caf_core REQUIRED)
find_library(CAF_IO_LIBRARY caf_io REQUIRED)
find_library(CAF_OPENSSL_LIBRARY caf_openssl REQUIRED)  # mutual TLS on the client-API port
add_library(CAF::core SHARED IMPORTED)
set_target_properties(CAF::core PROPERTIES IMPORTED_LOCATION ${CAF_CORE_LIBRARY} INTERFACE_INCLUDE_DIRECTORIES ${CAF_INCLUDE_DIR})
add_library(CAF::io SHARED IMPORTED)
set_target_properties(CAF::io PROPERTIES IMPORTED_LOCATION ${CAF_IO_LIBRARY} INTERFACE_LINK_LIBRARIES CAF::core)
add_library(CAF::openssl SHARED IMPORTED)
set_target_properties(CAF::openssl PROPERTIES IMPORTED_LOCATION ${CAF_OPENSSL_LIBRARY} INTERFACE_LINK_LIBRARIES "CAF::io;OpenSSL::SSL")
# The profiler's counters and histograms, also served as Prometheus text.
find_package(prometheus-cpp CONFIG REQUIRED)
# The HTTP gateway (http/): Boost.Beast and Boost.Asio (header-only, Boost::headers from the
# find_package(Boost) above), and OpenSSL's libcrypto for base64 and constant-time compares;
# libssl for the client-API port's TLS (CAF's OpenSSL module, actors/tls.h).
find_package(OpenSSL REQUIRED COMPONENTS Crypto SSL)
# The tiered cache (storage/): RocksDB's shared library (RocksDB::rocksdb is the static archive),
# xxHash for content keys and value checksums, spdlog's rotating file for RocksDB's info log.
find_package(RocksDB CONFIG REQUIRED)
pkg_check_modules(XXHASH REQUIRED IMPORTED_TARGET libxxhash)
find_package(spdlog CONFIG REQUIRED)
