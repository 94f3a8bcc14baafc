/* Kotlin's struct with a field of the wrong type: an int where the object pointer goes. */
typedef struct {
    int version;
    int kotlinObject;
} PriceSharedData;

extern PriceSharedData prices;
