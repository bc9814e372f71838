#include "store_testutil.h"
TEST(x_y_z){ASSERT(1);}
TEST_MAIN()
