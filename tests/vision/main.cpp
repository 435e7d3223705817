#define BOOST_TEST_MODULE vision
#include <boost/test/unit_test.hpp>
